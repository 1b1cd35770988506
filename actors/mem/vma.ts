import { check, SimulatorBug } from '../iommufd/errno.ts';
import type { BackingMapping, MmapBacking } from './file-table.ts';
import { alignDown, HPAGE_SIZE_N, isAligned, PAGE_SIZE_N } from './page.ts';

/** A virtual memory area, [start, end), read-only to everything outside the address space. */
export interface Vma {
  readonly start: bigint;
  readonly end: bigint;
  readonly prot: number;
  readonly shared: boolean;
  readonly hugetlb: boolean;
  readonly fd: number | undefined;
  /** Offset into the backing object, in pages. */
  readonly pgoff: bigint;
  readonly backing: MmapBacking | undefined;
  readonly startVpn: number;
  readonly endVpn: number;
}

export type VmaFields = Omit<Vma, 'startVpn' | 'endVpn'>;

/** Removes the PTEs of `vma` for pages [fromVpn, toVpn). */
export type ZapFn = (vma: Vma, fromVpn: number, toVpn: number) => void;

class Area implements Vma, BackingMapping {
  start: bigint;
  end: bigint;
  pgoff: bigint;
  startVpn: number;
  endVpn: number;
  readonly prot: number;
  readonly shared: boolean;
  readonly hugetlb: boolean;
  readonly fd: number | undefined;
  readonly backing: MmapBacking | undefined;

  constructor(
    f: VmaFields,
    private readonly zap: ZapFn,
  ) {
    ({ start: this.start, end: this.end, pgoff: this.pgoff, prot: this.prot, shared: this.shared } = f);
    ({ hugetlb: this.hugetlb, fd: this.fd, backing: this.backing } = f);
    this.startVpn = Number(f.start / PAGE_SIZE_N);
    this.endVpn = Number(f.end / PAGE_SIZE_N);
  }

  setStart(start: bigint): void {
    this.pgoff += (start - this.start) / PAGE_SIZE_N;
    this.start = start;
    this.startVpn = Number(start / PAGE_SIZE_N);
  }

  setEnd(end: bigint): void {
    this.end = end;
    this.endVpn = Number(end / PAGE_SIZE_N);
  }

  zapFrom(pageIndex: bigint): void {
    const skip = pageIndex - this.pgoff;
    const from = skip <= 0n ? this.startVpn : this.startVpn + Number(skip);
    if (from < this.endVpn) this.zap(this, from, this.endVpn);
  }
}

/** The mm's VMA tree, as a sorted array (processes have few VMAs). */
export class VmaList {
  #list: Area[] = [];

  constructor(private readonly zap: ZapFn) {}

  at(va: bigint): Vma | undefined {
    const i = this.#floor(va);
    const v = this.#list[i];
    return v && va < v.end ? v : undefined;
  }

  all(): readonly Vma[] {
    return [...this.#list];
  }

  /** The VMAs covering [start, end) with no hole between them; EFAULT on any hole. */
  cover(start: bigint, end: bigint): Vma[] {
    const out: Vma[] = [];
    let cur = start;
    for (let i = this.#floor(start); cur < end; i++) {
      const v = this.#list[i];
      check(v && v.start <= cur && cur < v.end, 'EFAULT', `no VMA at 0x${cur.toString(16)}`);
      out.push(v);
      cur = v.end;
    }
    return out;
  }

  /** Top-down first fit below `top`, as the default mmap layout, with the start aligned to `align`. */
  findGap(len: bigint, align: bigint, bottom: bigint, top: bigint): bigint | undefined {
    let hi = top;
    for (let i = this.#list.length - 1; i >= -1; i--) {
      const v = this.#list[i];
      if (v && v.start >= hi) continue;
      const lo = v ? v.end : bottom;
      if (hi >= len) {
        const s = alignDown(hi - len, align);
        if (s >= lo && s >= bottom) return s;
      }
      if (v) hi = v.start;
    }
    return undefined;
  }

  insert(f: VmaFields): Vma & BackingMapping {
    const area = new Area(f, this.zap);
    this.#place(area);
    return area;
  }

  /** A hugetlb VMA can only be split on a huge-page boundary (`hugetlb_vm_op_split()`): EINVAL. */
  checkUnmap(start: bigint, end: bigint): void {
    for (const v of this.#overlapping(start, end)) {
      if (!v.hugetlb) continue;
      check(!(v.start < start) || isAligned(start, HPAGE_SIZE_N), 'EINVAL', 'hugetlb split');
      check(!(end < v.end) || isAligned(end, HPAGE_SIZE_N), 'EINVAL', 'hugetlb split');
    }
  }

  /** Unmaps [start, end): zaps PTEs, splits partially covered VMAs, detaches the removed ones. */
  unmap(start: bigint, end: bigint): void {
    for (const v of this.#overlapping(start, end)) {
      const s = v.start > start ? v.start : start;
      const e = v.end < end ? v.end : end;
      this.zap(v, Number(s / PAGE_SIZE_N), Number(e / PAGE_SIZE_N));
      const keepLeft = v.start < s;
      const keepRight = e < v.end;
      if (keepLeft && keepRight) {
        const right = new Area(v, this.zap);
        right.setStart(e);
        v.setEnd(s);
        this.#place(right);
        // Both halves are now VMAs of the object: vm_ops->open for the new one.
        v.backing?.attach?.(right);
      } else if (keepLeft) {
        v.setEnd(s);
      } else if (keepRight) {
        v.setStart(e);
      } else {
        this.#list.splice(this.#list.indexOf(v), 1);
        v.backing?.detach?.(v);
      }
    }
  }

  #overlapping(start: bigint, end: bigint): Area[] {
    return this.#list.filter((v) => v.start < end && v.end > start);
  }

  /** Index of the last VMA starting at or below `va`, or -1. */
  #floor(va: bigint): number {
    let lo = 0;
    let hi = this.#list.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#list[mid]!.start <= va) {
        ans = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return ans;
  }

  #place(area: Area): void {
    const i = this.#floor(area.start) + 1;
    const prev = this.#list[i - 1];
    const next = this.#list[i];
    if ((prev && prev.end > area.start) || (next && next.start < area.end)) {
      throw new SimulatorBug(`overlapping VMA at 0x${area.start.toString(16)}`);
    }
    this.#list.splice(i, 0, area);
  }
}
