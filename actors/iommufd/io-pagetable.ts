import type { PagingDomain } from '../../vendors/driver.ts';
import { PAGE_SIZE_N } from '../mem/page.ts';
import { type FailNth, NEVER_FAILS } from '../runtime/fail-nth.ts';
import { DisjointIntervalTree } from './area-tree.ts';
import { fail, IommufdError } from './errno.ts';
import { IntervalTree, U64_MAX } from './interval-tree.ts';
import type { IoptArea } from './iopt-area.ts';
import { contiguousCoverage, doubleSpanHoles } from './span-iter.ts';

export const ULONG_MAX = U64_MAX;
const EMPTY = new IntervalTree<never>();

/** Who placed a reserved range: a domain (aperture), a device (resv regions), or the selftest. */
export type ReservedOwner = object | 'test';

/** An in-kernel user of an IOAS (`struct iommufd_access`) as the page table sees it. */
export interface IoptAccess {
  /** 1 for read/write-only users, PAGE_SIZE for users that pin pages. */
  readonly iovaAlignment: bigint;
  /** `access->ops->unmap`: the user must drop every pin inside [iova, iova+length). */
  notifyUnmap(iova: bigint, length: bigint): void;
}

/**
 * `struct io_pagetable`: an IOAS's IOVA space. Lock order in the kernel is domains → iova →
 * pages; here one ioctl runs at a time per ctx, and DMA only reads what the domains hold.
 */
export class IoPagetable {
  readonly areas = new DisjointIntervalTree<IoptArea>();
  readonly reserved = new IntervalTree<ReservedOwner>();
  readonly allowed = new IntervalTree<undefined>();
  readonly domains: PagingDomain[] = [];
  readonly accesses = new Set<IoptAccess>();
  iovaAlignment = 1n;
  disableLargePages = false;

  constructor(readonly failNth: FailNth = NEVER_FAILS) {}

  /** `iopt_area_contig`: the areas covering [iova, last] back to back, else ENOENT. */
  contiguousAreas(iova: bigint, last: bigint): IoptArea[] {
    const nodes = contiguousCoverage(this.areas, iova, last);
    if (!nodes) fail('ENOENT', `[${hex(iova)}, ${hex(last)}] is not fully mapped`);
    return nodes.map((n) => n.value);
  }

  /** The holes of the reserved tree over the whole space: what IOMMU_IOAS_IOVA_RANGES reports. */
  usableRanges(): Array<{ start: bigint; last: bigint }> {
    return [...doubleSpanHoles(this.reserved, EMPTY, 0n, ULONG_MAX)];
  }

  /** `iopt_check_iova`: a FIXED IOVA must be aligned, not overflow, not reserved, not mapped. */
  checkIova(iova: bigint, length: bigint): void {
    if (iova & (this.iovaAlignment - 1n))
      fail('EINVAL', `iova ${hex(iova)} not aligned to ${this.iovaAlignment}`);
    const last = iova + length - 1n;
    if (last > ULONG_MAX) fail('EOVERFLOW', 'iova + length overflows');
    if (this.reserved.intersects(iova, last)) fail('EINVAL', `[${hex(iova)}, ${hex(last)}] is reserved`);
    if (this.areas.intersects(iova, last)) fail('EEXIST', `[${hex(iova)}, ${hex(last)}] is already mapped`);
  }

  /** `iopt_reserve_iova`: EADDRINUSE if an area or an allowed range is in the way. */
  reserve(start: bigint, last: bigint, owner: ReservedOwner): void {
    if (this.areas.intersects(start, last))
      fail('EADDRINUSE', `reserve [${hex(start)}, ${hex(last)}] hits a mapping`);
    if (this.allowed.intersects(start, last)) {
      fail('EADDRINUSE', `reserve [${hex(start)}, ${hex(last)}] hits an allowed range`);
    }
    this.reserved.insert(start, last, owner);
  }

  /** Drops every reserved range placed by `owner`. */
  unreserve(owner: ReservedOwner): void {
    const mine = [...this.reserved.all()].filter((n) => n.value === owner);
    for (const n of mine) this.reserved.remove(n);
  }

  /**
   * `iopt_set_allow_iova`: replaces the allowed list atomically. EADDRINUSE if a new range
   * intersects a reservation, and then the old list stays.
   */
  setAllowed(ranges: ReadonlyArray<{ start: bigint; last: bigint }>): void {
    for (const r of ranges) {
      if (this.reserved.intersects(r.start, r.last)) {
        fail('EADDRINUSE', `allowed [${hex(r.start)}, ${hex(r.last)}] intersects a reserved range`);
      }
    }
    this.allowed.clear();
    for (const r of ranges) this.allowed.insert(r.start, r.last, undefined);
  }

  /** The alignment that domains and accesses require now (`iopt_calculate_iova_alignment`). */
  requiredAlignment(extra?: { domain?: PagingDomain; access?: IoptAccess; disableLarge?: boolean }): bigint {
    let align = (extra?.disableLarge ?? this.disableLargePages) ? PAGE_SIZE_N : 1n;
    const domains = extra?.domain ? [...this.domains, extra.domain] : this.domains;
    for (const d of domains) align = max(align, smallestPage(d.pgsizeBitmap));
    for (const a of this.accesses) align = max(align, a.iovaAlignment);
    if (extra?.access) align = max(align, extra.access.iovaAlignment);
    return align;
  }

  /** `iopt_check_iova_alignment`: every area must already honour `align`, else EADDRINUSE. */
  checkAlignment(align: bigint): void {
    const mask = align - 1n;
    for (const n of this.areas.all()) {
      const area = n.value;
      if (area.iova & mask || area.length & mask || area.pageOffset & mask) {
        fail('EADDRINUSE', `area at ${hex(area.iova)} violates alignment ${align}`);
      }
    }
  }

  /** Recomputes (possibly lowering) the alignment after a domain or access left. */
  recalcAlignment(): void {
    this.iovaAlignment = this.requiredAlignment();
  }

  /** Raises the alignment to what is now required, checking areas first (EADDRINUSE). */
  raiseAlignment(align: bigint): void {
    if (align > this.iovaAlignment) this.checkAlignment(align);
    this.iovaAlignment = align;
  }
}

/** `1 << __ffs(pgsize_bitmap)`. */
export function smallestPage(bitmap: bigint): bigint {
  if (bitmap === 0n) throw new IommufdError('EINVAL', 'empty pgsize_bitmap');
  return bitmap & -bitmap;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

export function hex(n: bigint): string {
  return `0x${n.toString(16)}`;
}
