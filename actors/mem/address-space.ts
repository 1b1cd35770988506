import { check, fail, SimulatorBug } from '../iommufd/errno.ts';
import type { FileTable, MmapBacking } from './file-table.ts';
import { MmCounters } from './locked-vm.ts';
import {
  alignDown,
  alignUp,
  HPAGE_PAGES,
  HPAGE_SIZE_N,
  isAligned,
  isPowerOfTwo,
  PAGE_SIZE,
  PAGE_SIZE_N,
} from './page.ts';
import type { PhysMemory } from './phys-memory.ts';
import { type Vma, VmaList } from './vma.ts';

export type { Vma } from './vma.ts';

export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;

/** x86-64 user address space limit (4-level paging): TASK_SIZE_MAX. */
export const TASK_SIZE = 0x7fff_ffff_f000n;

export interface MmapOptions {
  /** Alignment of the chosen VA (a power of two); not a Linux flag, a stand-in for the selftest's aligned mmap. */
  align?: bigint;
  /** MAP_HUGETLB: backed now by 2 MiB physically contiguous pages; length rounds up to 2 MiB. */
  hugetlb?: boolean;
  shared?: boolean;
  fd?: number;
  offset?: bigint;
  prot?: number;
  /** MAP_FIXED at this VA: replaces whatever was mapped there. */
  fixed?: bigint;
}

export interface AddressSpaceOptions {
  /** Resolves `mmap({ fd })`; without it file mappings give EBADF. */
  files?: FileTable;
  /** Top of the top-down mmap area (mm->mmap_base). */
  mmapBase?: bigint;
  /** vm.mmap_min_addr. */
  mmapMin?: bigint;
}

/**
 * A process's mm: VMAs plus a page table from virtual page number to pfn. Anonymous memory is demand
 * paged; each PTE owns one reference on its frame, except on VM_PFNMAP mappings.
 */
export class AddressSpace {
  readonly counters = new MmCounters();
  readonly mmapBase: bigint;
  readonly mmapMin: bigint;
  readonly #files: FileTable | undefined;
  readonly #vmas: VmaList;
  /** vpn → pfn as numbers: VAs < 2^47 and pfns < 2^53 both fit, and number keys are much faster. */
  readonly #ptes = new Map<number, number>();

  constructor(
    readonly phys: PhysMemory,
    opts: AddressSpaceOptions = {},
  ) {
    this.#files = opts.files;
    this.mmapBase = opts.mmapBase ?? 0x7f00_0000_0000n;
    this.mmapMin = opts.mmapMin ?? 0x10000n;
    this.#vmas = new VmaList((vma, fromVpn, toVpn) => this.#zap(vma, fromVpn, toVpn));
  }

  /** Pages currently present in the page table. */
  get residentPages(): number {
    return this.#ptes.size;
  }

  mmap(length: bigint | number, opts: MmapOptions = {}): bigint {
    let len = BigInt(length);
    check(len > 0n && len <= TASK_SIZE, len > 0n ? 'ENOMEM' : 'EINVAL', `mmap length ${len}`);
    const prot = opts.prot ?? PROT_READ | PROT_WRITE;
    check((prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) === 0, 'EINVAL', `prot ${prot}`);
    const offset = opts.offset ?? 0n;
    check(offset >= 0n && isAligned(offset, PAGE_SIZE_N), 'EINVAL', 'mmap offset');
    check(opts.align === undefined || isPowerOfTwo(opts.align), 'EINVAL', 'mmap align');
    len = alignUp(len, PAGE_SIZE_N);

    let backing: MmapBacking | undefined;
    let shared = opts.shared ?? false;
    if (opts.fd !== undefined) {
      const file = this.#files ? this.#files.get(opts.fd) : fail('EBADF', 'no file table');
      if (!file.mmap) fail('ENODEV', `${file.kind} has no mmap`);
      backing = file.mmap({ offset, length: len, prot, shared });
      check(!opts.hugetlb || backing.hugetlb, 'EINVAL', 'MAP_HUGETLB on a file not on hugetlbfs');
      shared = true;
    }
    const huge = backing ? backing.hugetlb === true : opts.hugetlb === true;
    const gran = huge ? HPAGE_SIZE_N : PAGE_SIZE_N;
    len = alignUp(len, gran);

    let start: bigint;
    if (opts.fixed !== undefined) {
      start = opts.fixed;
      check(isAligned(start, gran), 'EINVAL', 'MAP_FIXED address not aligned');
      check(start >= 0n && start + len <= TASK_SIZE, 'ENOMEM', 'MAP_FIXED beyond TASK_SIZE');
      this.#vmas.checkUnmap(start, start + len);
    } else {
      const align = opts.align !== undefined && opts.align > gran ? opts.align : gran;
      start = this.#vmas.findGap(len, align, this.mmapMin, this.mmapBase) ?? fail('ENOMEM', 'no VA gap');
    }

    const frames = huge && !backing ? this.#allocHuge(len) : undefined;
    if (opts.fixed !== undefined) this.#vmas.unmap(start, start + len);
    const vma = this.#vmas.insert({
      start,
      end: start + len,
      prot,
      shared,
      hugetlb: huge,
      fd: opts.fd,
      pgoff: offset / PAGE_SIZE_N,
      backing,
    });
    if (frames) {
      const vpn0 = Number(start / PAGE_SIZE_N);
      for (const [i, pfn] of frames.entries()) this.#ptes.set(vpn0 + i, pfn);
    }
    backing?.attach?.(vma);
    return start;
  }

  /** Removes [va, va+length) from every VMA it touches, splitting them; unmapped holes are fine. */
  munmap(va: bigint, length: bigint | number): void {
    const len = alignUp(BigInt(length), PAGE_SIZE_N);
    check(isAligned(va, PAGE_SIZE_N) && len > 0n, 'EINVAL', 'munmap');
    check(va >= 0n && va <= TASK_SIZE && len <= TASK_SIZE - va, 'EINVAL', 'munmap beyond TASK_SIZE');
    this.#vmas.checkUnmap(va, va + len);
    this.#vmas.unmap(va, va + len);
  }

  /** exit_mmap(): everything goes. */
  unmapAll(): void {
    this.#vmas.unmap(0n, TASK_SIZE);
  }

  vmaAt(va: bigint): Vma | undefined {
    return this.#vmas.at(va);
  }

  vmas(): readonly Vma[] {
    return this.#vmas.all();
  }

  /** The frame mapped at `va` now, without faulting anything in. */
  lookupFrame(va: bigint): bigint | undefined {
    const pfn = this.#ptes.get(Number(va / PAGE_SIZE_N));
    return pfn === undefined ? undefined : BigInt(pfn);
  }

  /** A user load: faults pages in; EFAULT for an unmapped or PROT_NONE page. */
  read(va: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.#access(va, length, false, (pa, done, n) => out.set(this.phys.read(pa, n), done));
    return out;
  }

  /** A user store: EFAULT, with nothing written, if any page is unmapped, not writable or past a file's EOF. */
  write(va: bigint, bytes: Uint8Array): void {
    this.#access(va, bytes.length, true, (pa, done, n) =>
      this.phys.write(pa, bytes.subarray(done, done + n)),
    );
  }

  /**
   * `check_zeroed_user`'s scan of [va, va + length): the offset of the first non-zero byte, or -1.
   * EFAULT if an unmapped or PROT_NONE page comes before one. Untouched anonymous pages read as
   * the zero page without being faulted in, so scanning a huge zero range costs only what is
   * populated in it, not its length.
   */
  firstNonZero(va: bigint, length: number): number {
    if (length <= 0) return -1;
    check(va >= 0n, 'EFAULT');
    const end = va + BigInt(length);
    let at = va;
    while (at < end) {
      const vma = this.#vmas.at(at);
      if (vma === undefined || vma.prot === PROT_NONE) fail('EFAULT', 'unreadable user memory');
      const segEnd = vma.end < end ? vma.end : end;
      const hit = vma.backing || vma.hugetlb ? this.#scanRead(at, segEnd) : this.#scanAnon(at, segEnd);
      if (hit !== undefined) return Number(hit - va);
      at = segEnd;
    }
    return -1;
  }

  /** The first non-zero byte in [from, to) of one VMA, reading (and faulting) every page. */
  #scanRead(from: bigint, to: bigint): bigint | undefined {
    for (let at = from; at < to; ) {
      const n = Number(minBig(to - at, PAGE_SIZE_N - (at % PAGE_SIZE_N)));
      const i = this.read(at, n).findIndex((b) => b !== 0);
      if (i >= 0) return at + BigInt(i);
      at += BigInt(n);
    }
    return undefined;
  }

  /** The first non-zero byte in [from, to) of a private anonymous VMA: only present pages can hold one. */
  #scanAnon(from: bigint, to: bigint): bigint | undefined {
    const fromVpn = Number(from / PAGE_SIZE_N);
    const toVpn = Number((to - 1n) / PAGE_SIZE_N) + 1;
    let vpns: number[];
    if (toVpn - fromVpn <= this.#ptes.size) {
      vpns = [];
      for (let vpn = fromVpn; vpn < toVpn; vpn++) if (this.#ptes.has(vpn)) vpns.push(vpn);
    } else {
      vpns = [...this.#ptes.keys()].filter((vpn) => vpn >= fromVpn && vpn < toVpn).sort((a, b) => a - b);
    }
    for (const vpn of vpns) {
      const page = BigInt(vpn) * PAGE_SIZE_N;
      const start = page > from ? page : from;
      const stop = page + PAGE_SIZE_N < to ? page + PAGE_SIZE_N : to;
      const pa = BigInt(this.#ptes.get(vpn)!) * PAGE_SIZE_N + (start - page);
      const i = this.phys.read(pa, Number(stop - start)).findIndex((b) => b !== 0);
      if (i >= 0) return start + BigInt(i);
    }
    return undefined;
  }

  /**
   * pin_user_pages(FOLL_LONGTERM): the frames backing [va, va + npages pages), each with a new reference.
   * EFAULT for a hole, a PFNMAP mapping, a write pin of a read-only VMA or a read pin of an unreadable one
   * (`check_vma_flags()`). All or nothing: on failure no reference stays taken.
   */
  pinPages(va: bigint, npages: number, write: boolean): bigint[] {
    check(Number.isInteger(npages) && npages >= 0, 'EINVAL', `npages ${npages}`);
    if (npages === 0) return [];
    this.phys.failNth.point('pin', 'pin_user_pages');
    const start = alignDown(va, PAGE_SIZE_N);
    const end = start + BigInt(npages) * PAGE_SIZE_N;
    for (const vma of this.#vmas.cover(start, end)) {
      check(!vma.backing?.pfnmap, 'EFAULT', 'pin of a PFNMAP mapping');
      check(write ? vma.prot & PROT_WRITE : vma.prot & PROT_READ, 'EFAULT', 'pin against VMA protection');
    }
    const frames: bigint[] = [];
    try {
      const vpn0 = Number(start / PAGE_SIZE_N);
      let vma = this.#vmas.at(start)!;
      for (let i = 0; i < npages; i++) {
        const vpn = vpn0 + i;
        if (vpn >= vma.endVpn) vma = this.#vmas.at(BigInt(vpn) * PAGE_SIZE_N)!;
        const pfn = BigInt(this.#fault(vma, vpn));
        this.phys.get(pfn);
        frames.push(pfn);
      }
    } catch (err) {
      this.unpinPages(frames);
      throw err;
    }
    return frames;
  }

  unpinPages(frames: readonly bigint[]): void {
    for (const pfn of frames) this.phys.put(pfn);
  }

  /**
   * Checks protections, then faults in every page, then copies: a failing access (hole, protection, or a
   * file page past EOF) transfers no data at all, though pages faulted in before the failure stay mapped.
   */
  #access(va: bigint, length: number, write: boolean, copy: (pa: bigint, done: number, n: number) => void) {
    if (length === 0) return;
    check(va >= 0n, 'EFAULT');
    const end = va + BigInt(length);
    for (const vma of this.#vmas.cover(va, end)) {
      // x86 semantics: any mapping that is not PROT_NONE is readable by the CPU.
      check(
        write ? vma.prot & PROT_WRITE : vma.prot !== PROT_NONE,
        'EFAULT',
        'access against VMA protection',
      );
    }
    const vpn0 = Number(va / PAGE_SIZE_N);
    const pfns: number[] = [];
    let vma = this.#vmas.at(va)!;
    for (let vpn = vpn0; vpn <= Number((end - 1n) / PAGE_SIZE_N); vpn++) {
      if (vpn >= vma.endVpn) vma = this.#vmas.at(BigInt(vpn) * PAGE_SIZE_N)!;
      pfns.push(this.#fault(vma, vpn));
    }
    let off = Number(va % PAGE_SIZE_N);
    let done = 0;
    for (const pfn of pfns) {
      const n = Math.min(length - done, PAGE_SIZE - off);
      copy(BigInt(pfn) * PAGE_SIZE_N + BigInt(off), done, n);
      done += n;
      off = 0;
    }
  }

  /** handle_mm_fault(): the page's frame, populating the PTE on first touch. */
  #fault(vma: Vma, vpn: number): number {
    const have = this.#ptes.get(vpn);
    if (have !== undefined) return have;
    let pfn: number;
    if (vma.backing) {
      pfn = Number(vma.backing.frameAt(vma.pgoff + BigInt(vpn - vma.startVpn)));
      if (!vma.backing.pfnmap) this.phys.get(BigInt(pfn));
    } else if (vma.hugetlb) {
      throw new SimulatorBug(`hugetlb VMA without a PTE at vpn 0x${vpn.toString(16)}`);
    } else {
      pfn = Number(this.phys.allocPage());
    }
    this.#ptes.set(vpn, pfn);
    return pfn;
  }

  /** Anonymous hugetlb: every huge page allocated up front; nothing stays allocated on ENOMEM. */
  #allocHuge(len: bigint): number[] {
    // hugetlb_reserve_pages: a request beyond what is free fails at once, before any work.
    const { allocatedFrames, totalBytes } = this.phys.stats();
    if (len / PAGE_SIZE_N > totalBytes / PAGE_SIZE_N - BigInt(allocatedFrames))
      fail('ENOMEM', `hugetlb mapping of 0x${len.toString(16)} bytes exceeds free memory`);
    const frames: number[] = [];
    try {
      for (let i = 0n; i < len / HPAGE_SIZE_N; i++) {
        const base = Number(this.phys.allocContiguous(HPAGE_PAGES, HPAGE_PAGES));
        for (let j = 0; j < HPAGE_PAGES; j++) frames.push(base + j);
      }
    } catch (err) {
      for (const pfn of frames) this.phys.put(BigInt(pfn));
      throw err;
    }
    return frames;
  }

  /** zap_page_range(): drops PTEs in [fromVpn, toVpn) of `vma` and their frame references. */
  #zap(vma: Vma, fromVpn: number, toVpn: number): void {
    const refcounted = !vma.backing?.pfnmap;
    const drop = (vpn: number, pfn: number) => {
      this.#ptes.delete(vpn);
      if (refcounted) this.phys.put(BigInt(pfn));
    };
    if (toVpn - fromVpn <= this.#ptes.size) {
      for (let vpn = fromVpn; vpn < toVpn; vpn++) {
        const pfn = this.#ptes.get(vpn);
        if (pfn !== undefined) drop(vpn, pfn);
      }
    } else {
      for (const [vpn, pfn] of this.#ptes) if (vpn >= fromVpn && vpn < toVpn) drop(vpn, pfn);
    }
  }
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
