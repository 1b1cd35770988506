import type { AddressSpace } from '../mem/address-space.ts';
import { charge, type LockedCounter, uncharge } from '../mem/locked-vm.ts';
import type { MemFile } from '../mem/memfd.ts';
import { PAGE_SIZE_N } from '../mem/page.ts';
import { fail } from './errno.ts';

/** Where an iopt_pages' memory comes from: a user VA range or a memfd range. */
export type PagesSource =
  | { readonly kind: 'user'; readonly mm: AddressSpace; readonly base: bigint }
  | { readonly kind: 'file'; readonly file: MemFile; readonly base: bigint };

/**
 * Who pays for pinned pages, fixed when the pages object is made (`iopt_pages->source_user`):
 * the ctx's RLIMIT_MODE picks the user's counter or the mm's.
 */
export interface PinAccount {
  readonly counter: LockedCounter;
  /** RLIMIT_MEMLOCK in pages; undefined is unlimited. */
  readonly limitPages: bigint | undefined;
  /** mm->pinned_vm, which every pin updates whatever the mode (VmPin). */
  readonly pinned: { pinnedPages: bigint };
  /** Broken twin: charge already-pinned pages again when the pages are shared. */
  readonly faults?: { readonly doubleAccountSharedPages: boolean };
}

/**
 * `struct iopt_pages`: the pages behind one or more areas. Areas made by IOAS_COPY share it, so a
 * page is pinned once, and charged once, however many areas or accesses use it. `base` is the
 * page-aligned start; byte offsets into the object are relative to it.
 */
/** Pages pinned from the source per step. */
const PIN_BATCH = 512;

export class IoptPages {
  readonly npages: number;
  /** Areas referencing this object. */
  areaUsers = 0;
  /** Sparse, and made on first pin: a million unpinned areas must not cost a million maps. */
  #framesMap: Map<number, bigint> | undefined;
  #pinsMap: Map<number, number> | undefined;
  #pinnedCount = 0;

  constructor(
    readonly source: PagesSource,
    /** Length in bytes from `base`, including the sub-page offset of the first area. */
    readonly byteLength: bigint,
    readonly writable: boolean,
    /** Not readonly: IOMMU_IOAS_CHANGE_PROCESS moves the charge to another process. */
    public account: PinAccount,
  ) {
    this.npages = Number((byteLength + PAGE_SIZE_N - 1n) / PAGE_SIZE_N);
  }

  get #frames(): Map<number, bigint> {
    this.#framesMap ??= new Map();
    return this.#framesMap;
  }

  get #pins(): Map<number, number> {
    this.#pinsMap ??= new Map();
    return this.#pinsMap;
  }

  get pinnedPages(): number {
    return this.#pinnedCount;
  }

  /** Frame of page `index` while pinned. */
  frame(index: number): bigint | undefined {
    return this.#framesMap?.get(index);
  }

  pinCount(index: number): number {
    return this.#pinsMap?.get(index) ?? 0;
  }

  /**
   * Takes one pin on pages [first, last]: pages not yet pinned are pinned from the source and
   * charged. All or nothing: EFAULT (bad memory) or ENOMEM (RLIMIT_MEMLOCK) leave no trace.
   */
  pin(first: number, last: number): void {
    const { counter, limitPages } = this.account;
    const twin = this.account.faults?.doubleAccountSharedPages === true && this.areaUsers > 1;
    const runs: Array<[number, bigint[]]> = [];
    let charged = 0;
    try {
      let i = first;
      while (i <= last) {
        if (this.#pins.has(i)) {
          // The broken twin charges a shared page again for every pin.
          if (twin) {
            charge(counter, 1, limitPages);
            charged++;
          }
          i++;
          continue;
        }
        // Bounded runs, as the kernel's pfn batches: a huge range fails at its first bad page
        // instead of after a scan of the whole range.
        let j = i;
        while (j < last && j - i + 1 < PIN_BATCH && !this.#pins.has(j + 1)) j++;
        const frames = this.#pinFromSource(i, j - i + 1);
        runs.push([i, frames]);
        charge(counter, frames.length, limitPages);
        charged += frames.length;
        i = j + 1;
      }
    } catch (err) {
      for (const [, frames] of runs) this.#unpinToSource(frames);
      if (charged > 0) uncharge(counter, charged);
      throw err;
    }
    let fresh = 0;
    for (const [start, frames] of runs) {
      for (let k = 0; k < frames.length; k++) this.#frames.set(start + k, frames[k]!);
      fresh += frames.length;
    }
    for (let i = first; i <= last; i++) this.#pins.set(i, (this.#pins.get(i) ?? 0) + 1);
    this.#pinnedCount += fresh;
    this.account.pinned.pinnedPages += BigInt(fresh);
  }

  /** Drops one pin on pages [first, last]; pages reaching zero go back to their source. */
  unpin(first: number, last: number): void {
    let released = 0;
    const frames: bigint[] = [];
    for (let i = first; i <= last; i++) {
      const n = this.#pins.get(i) ?? 0;
      if (n === 0) throw new Error(`iopt_pages: unpin of unpinned page ${i}`);
      if (n === 1) {
        this.#pins.delete(i);
        frames.push(this.#frames.get(i)!);
        this.#frames.delete(i);
        released++;
      } else this.#pins.set(i, n - 1);
    }
    this.#unpinToSource(frames);
    if (released > 0) {
      uncharge(this.account.counter, released);
      this.account.pinned.pinnedPages -= BigInt(released);
      this.#pinnedCount -= released;
    }
  }

  #pinFromSource(index: number, count: number): bigint[] {
    const offset = this.source.base + BigInt(index) * PAGE_SIZE_N;
    if (this.source.kind === 'user') return this.source.mm.pinPages(offset, count, this.writable);
    const file = this.source.file;
    if (offset + BigInt(count) * PAGE_SIZE_N > roundUpPage(file.size)) fail('EFAULT', 'file pages gone');
    return file.pinRange(offset, BigInt(count) * PAGE_SIZE_N);
  }

  #unpinToSource(frames: bigint[]): void {
    if (frames.length === 0) return;
    if (this.source.kind === 'user') this.source.mm.unpinPages(frames);
    else this.source.file.unpin(frames);
  }
}

function roundUpPage(n: bigint): bigint {
  return (n + PAGE_SIZE_N - 1n) & ~(PAGE_SIZE_N - 1n);
}
