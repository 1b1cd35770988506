import type { Leaf } from './walk-pt.ts';

/**
 * The VT-d IOTLB: translations tagged by (DID, PASID). Second-stage-only and nested entries are
 * also dropped by a DID-wide `iotlb_inv_dsc`; `p_iotlb_inv_dsc` drops the entries of one
 * (DID, PASID). Keys are plain numbers so a hit costs two Map lookups:
 * tag = DID * 2^20 + PASID, key = aligned pfn * 4 + size index.
 */

export const KIND_SS = 0;
export const KIND_FS = 1;
export const KIND_NESTED = 2;
export type EntryKind = typeof KIND_SS | typeof KIND_FS | typeof KIND_NESTED;

export interface IotlbEntry {
  readonly tag: number;
  readonly key: number;
  readonly kind: EntryKind;
  /** Output address of the page start, and the page size. */
  readonly pa: bigint;
  readonly size: bigint;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
  readonly user: boolean;
  /** The leaf PTE: a write hit on a clean entry must still set its D bit. */
  readonly ptePa: bigint;
  /** Set when the hardware already wrote D (or SSADE is off: no update needed). */
  dirtyDone: boolean;
  readonly filledAt: number;
}

interface TagSet {
  /** Bitmask of size indexes present: 1 = 4K, 2 = 2M, 4 = 1G. */
  sizes: number;
  readonly entries: Map<number, IotlbEntry>;
}

const PASID_SPAN = 0x10_0000;
const SIZE_INDEX = new Map<bigint, number>([
  [1n << 12n, 0],
  [1n << 21n, 1],
  [1n << 30n, 2],
]);

export const iotlbTag = (did: number, pasid: number): number => did * PASID_SPAN + pasid;

export class Iotlb {
  readonly #tags = new Map<number, TagSet>();
  /** Insertion order, for eviction when full. */
  readonly #order = new Set<IotlbEntry>();
  hits = 0;
  misses = 0;

  constructor(readonly capacity = 4096) {}

  get size(): number {
    return this.#order.size;
  }

  /** The entry covering `pfn` (= iova >> 12) under `tag`, if any. */
  lookup(tag: number, pfn: number): IotlbEntry | undefined {
    const t = this.#tags.get(tag);
    if (t) {
      let e = t.entries.get(pfn * 4);
      if (e === undefined && t.sizes & 2) e = t.entries.get((pfn - (pfn % 512)) * 4 + 1);
      if (e === undefined && t.sizes & 4) e = t.entries.get((pfn - (pfn % 262144)) * 4 + 2);
      if (e !== undefined) {
        this.hits++;
        return e;
      }
    }
    this.misses++;
    return undefined;
  }

  fill(
    did: number,
    pasid: number,
    iova: bigint,
    leaf: Leaf,
    kind: EntryKind,
    dirtyDone: boolean,
    now: number,
  ): IotlbEntry | undefined {
    const sizeIndex = SIZE_INDEX.get(leaf.size);
    if (sizeIndex === undefined) return undefined;
    const tag = iotlbTag(did, pasid);
    const pfn = Number((iova & ~(leaf.size - 1n)) >> 12n);
    const key = pfn * 4 + sizeIndex;
    let t = this.#tags.get(tag);
    if (!t) {
      t = { sizes: 0, entries: new Map() };
      this.#tags.set(tag, t);
    }
    const old = t.entries.get(key);
    if (old) this.#order.delete(old);
    else if (this.#order.size >= this.capacity) this.#evictOldest();
    const entry: IotlbEntry = {
      tag,
      key,
      kind,
      pa: leaf.pa,
      size: leaf.size,
      read: leaf.read,
      write: leaf.write,
      exec: leaf.exec,
      user: leaf.user,
      ptePa: leaf.ptePa,
      dirtyDone,
      filledAt: now,
    };
    t.entries.set(key, entry);
    t.sizes |= 1 << sizeIndex;
    this.#order.add(entry);
    return entry;
  }

  /**
   * `iotlb_inv_dsc` DSI/PSI: second-stage and nested entries of `did`, every PASID. A PSI names
   * a second-stage input address (GPA): second-stage entries overlapping it go, and every nested
   * entry of the DID goes, since a combined GVA→HPA entry cannot be matched to a GPA [spec].
   */
  invalidateDomain(did: number, range?: { start: bigint; size: bigint }): number {
    const mine = (e: IotlbEntry) => Math.floor(e.tag / PASID_SPAN) === did;
    let n = this.#drop((e) => mine(e) && e.kind === KIND_SS, range);
    n += this.#drop((e) => mine(e) && e.kind === KIND_NESTED, undefined);
    return n;
  }

  /** `p_iotlb_inv_dsc`: every entry of (did, pasid); with a range, only those overlapping it. */
  invalidatePasid(did: number, pasid: number, range?: { start: bigint; size: bigint }): number {
    const tag = iotlbTag(did, pasid);
    return this.#drop((e) => e.tag === tag, range);
  }

  invalidateAll(): number {
    const n = this.#order.size;
    this.#tags.clear();
    this.#order.clear();
    return n;
  }

  entries(): IotlbEntry[] {
    return [...this.#order];
  }

  #drop(match: (e: IotlbEntry) => boolean, range: { start: bigint; size: bigint } | undefined): number {
    let n = 0;
    for (const e of [...this.#order]) {
      if (!match(e)) continue;
      if (range) {
        const start = BigInt(Math.floor(e.key / 4)) << 12n;
        if (start >= range.start + range.size || start + e.size <= range.start) continue;
      }
      this.#remove(e);
      n++;
    }
    return n;
  }

  #remove(e: IotlbEntry): void {
    this.#order.delete(e);
    const t = this.#tags.get(e.tag);
    if (!t) return;
    t.entries.delete(e.key);
    if (t.entries.size === 0) this.#tags.delete(e.tag);
  }

  #evictOldest(): void {
    const first = this.#order.values().next();
    if (!first.done) this.#remove(first.value);
  }
}
