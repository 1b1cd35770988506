import { PAGE_SIZE_N } from '../mem/page.ts';
import type { IommufdCtx } from './ctx.ts';
import { fail } from './errno.ts';
import { hex, type IoptAccess, ULONG_MAX } from './io-pagetable.ts';
import type { Ioas } from './ioas.ts';
import type { IoptArea } from './iopt-area.ts';
import { IommufdObject } from './object.ts';

/** What an in-kernel user provides (`struct iommufd_access_ops`). */
export interface AccessOps {
  /** It pins pages (PAGE_SIZE alignment) rather than only copying through the IOAS. */
  readonly needsPinPages: boolean;
  /** Must unpin everything inside [iova, iova+length) before returning. */
  unmap?(iova: bigint, length: bigint): void;
}

/** One pinned range, as `iommufd_access_pin_pages` hands back pages. */
export interface AccessPin {
  readonly iova: bigint;
  readonly length: bigint;
  /** The physical frame of each PAGE_SIZE page of the range, in order. */
  readonly frames: readonly bigint[];
  readonly locked: boolean;
  /** @internal per-area pieces to release. */
  readonly pieces: ReadonlyArray<{ area: IoptArea; first: number; last: number }>;
}

/**
 * IOMMUFD_OBJ_ACCESS: an in-kernel user of an IOAS (an emulated device, the selftest, a HW
 * queue's backing memory). It raises the IOAS alignment while attached and is told to let go
 * of its pins when userspace unmaps.
 */
export class IommufdAccess extends IommufdObject implements IoptAccess {
  readonly type = 'ACCESS' as const;
  ioas: Ioas | undefined;
  readonly pins = new Set<AccessPin>();

  constructor(
    readonly ctx: IommufdCtx,
    readonly ops: AccessOps,
  ) {
    super();
  }

  get iovaAlignment(): bigint {
    return this.ops.needsPinPages ? PAGE_SIZE_N : 1n;
  }

  notifyUnmap(iova: bigint, length: bigint): void {
    this.ops.unmap?.(iova, length);
  }

  destroy(): void {
    if (this.ioas) detachIoas(this);
  }
}

/** `iommufd_access_create` + attach: allocated (not finalized) and attached to `ioas`. */
export function accessCreate(ctx: IommufdCtx, ioas: Ioas, ops: AccessOps): IommufdAccess {
  const access = ctx.objects.create(() => new IommufdAccess(ctx, ops));
  try {
    attachIoas(access, ioas);
  } catch (err) {
    // A failed attach (EADDRINUSE) must not leave the ID reserved.
    ctx.objects.releaseId(access.id);
    throw err;
  }
  return access;
}

/** `iopt_add_access`: joining may raise the IOAS alignment (EADDRINUSE if areas disagree). */
function attachIoas(access: IommufdAccess, ioas: Ioas): void {
  ioas.iopt.raiseAlignment(ioas.iopt.requiredAlignment({ access }));
  ioas.iopt.accesses.add(access);
  access.ioas = ioas.get();
}

function detachIoas(access: IommufdAccess): void {
  const ioas = access.ioas!;
  ioas.iopt.accesses.delete(access);
  ioas.iopt.recalcAlignment();
  access.ioas = undefined;
  ioas.put();
}

/**
 * `iommufd_access_change_ioas`: moves the access; its pins in the old IOAS are dropped first
 * through its own unmap callback.
 */
export function accessReplaceIoas(access: IommufdAccess, ioas: Ioas): void {
  if (access.ioas === ioas) return;
  // Check the new IOAS before touching the old one, so a failure changes nothing.
  ioas.iopt.checkAlignment(ioas.iopt.requiredAlignment({ access }));
  if (access.ioas) {
    access.notifyUnmap(0n, ULONG_MAX);
    for (const pin of [...access.pins]) accessUnpinPages(access, pin);
    detachIoas(access);
  }
  attachIoas(access, ioas);
}

/**
 * `iommufd_access_pin_pages`: pins [iova, iova+length) through contiguous, page-aligned areas
 * (holes ENOENT, misalignment or an area being unmapped EINVAL, a write to a read-only area
 * EPERM). `lock` additionally blocks UNMAP of those areas (EBUSY), as HW queues need.
 */
export function accessPinPages(
  access: IommufdAccess,
  iova: bigint,
  length: bigint,
  write: boolean,
  lock = false,
): AccessPin {
  if (!access.ops.needsPinPages) fail('EINVAL', 'access does not pin pages');
  if (length === 0n) fail('EINVAL', 'zero length');
  const last = iova + length - 1n;
  if (last > ULONG_MAX) fail('EOVERFLOW', 'iova + length overflows');
  const ioas = access.ioas;
  if (!ioas) fail('ENOENT', 'access has no IOAS');
  const areas = ioas.iopt.contiguousAreas(iova, last);
  for (const area of areas) {
    const from = area.iova > iova ? area.iova : iova;
    const to = area.last < last ? area.last : last;
    // Each piece must start on a page; it may end mid-page only where its area ends.
    const endsAligned = to === area.last || (area.byteOf(to) + 1n) % PAGE_SIZE_N === 0n;
    if (area.byteOf(from) % PAGE_SIZE_N !== 0n || !endsAligned) {
      fail('EINVAL', `[${hex(iova)}, ${hex(last)}] is not page aligned in its areas`);
    }
  }
  for (const area of areas) {
    if (area.preventAccess || area.removing) fail('EINVAL', `area ${hex(area.iova)} is being unmapped`);
    if (write && !(area.prot & 2)) fail('EPERM', `area ${hex(area.iova)} is read-only`);
  }
  const pieces: Array<{ area: IoptArea; first: number; last: number }> = [];
  try {
    for (const area of areas) {
      const from = area.iova > iova ? area.iova : iova;
      const to = area.last < last ? area.last : last;
      const piece = { area, first: area.indexOf(from), last: area.indexOf(to) };
      area.pages.pin(piece.first, piece.last);
      pieces.push(piece);
    }
  } catch (err) {
    for (const p of pieces) p.area.pages.unpin(p.first, p.last);
    throw err;
  }
  const frames: bigint[] = [];
  for (const p of pieces) {
    p.area.numAccesses++;
    if (lock) p.area.numLocks++;
    for (let i = p.first; i <= p.last; i++) frames.push(p.area.pages.frame(i)!);
  }
  const pin: AccessPin = { iova, length, frames, locked: lock, pieces };
  access.pins.add(pin);
  return pin;
}

/** `iommufd_access_unpin_pages`. */
export function accessUnpinPages(access: IommufdAccess, pin: AccessPin): void {
  if (!access.pins.delete(pin)) throw new Error('iommufd: unpin of a range this access did not pin');
  for (const p of pin.pieces) {
    p.area.numAccesses--;
    if (pin.locked) p.area.numLocks--;
    if (p.area.numAccesses === 0) p.area.preventAccess = false;
    p.area.pages.unpin(p.first, p.last);
  }
}

/**
 * `iommufd_access_rw`: copies between `data` and the memory mapped at [iova, ...), through the
 * areas' pages (no device translation): holes ENOENT, a write to a read-only area EPERM.
 */
export function accessRw(access: IommufdAccess, iova: bigint, data: Uint8Array, write: boolean): void {
  if (data.length === 0) fail('EINVAL', 'zero length');
  const last = iova + BigInt(data.length) - 1n;
  if (last > ULONG_MAX) fail('EOVERFLOW', 'iova + length overflows');
  const ioas = access.ioas;
  if (!ioas) fail('ENOENT', 'access has no IOAS');
  const areas = ioas.iopt.contiguousAreas(iova, last);
  for (const area of areas) {
    if (area.removing) fail('ENOENT', 'area is being unmapped');
    if (write && !(area.prot & 2)) fail('EPERM', `area ${hex(area.iova)} is read-only`);
  }
  let off = 0;
  for (const area of areas) {
    const from = area.iova > iova ? area.iova : iova;
    const to = area.last < last ? area.last : last;
    const n = Number(to - from + 1n);
    const chunk = data.subarray(off, off + n);
    const src = area.pages.source;
    const at = src.base + area.byteOf(from);
    if (src.kind === 'user') {
      if (write) src.mm.write(at, chunk);
      else chunk.set(src.mm.read(at, n));
    } else if (write) src.file.write(at, chunk);
    else chunk.set(src.file.read(at, n));
    off += n;
  }
}
