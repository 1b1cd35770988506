/**
 * The IOMMU's IOTLB, tagged as AMD-Vi tags it: DomainID, plus the PASID for guest (GN=1)
 * translations. Entries are keyed by their 4 KiB frame number (a JS number: IOVAs are below
 * 2^64, so frames fit in 52 bits) in one map per page size of the tag, so a hit is two Map
 * lookups and no bigint work.
 */

export interface IotlbEntry {
  /** Physical address of the page (aligned to its size). */
  readonly pa: bigint;
  readonly log2Size: number;
  /** 2^log2Size and 2^log2Size - 1, kept so a hit builds no bigint for them. */
  readonly pageSize: bigint;
  readonly mask: bigint;
  readonly read: boolean;
  readonly write: boolean;
  /** Guest translations: user-accessible on every level, and no-execute somewhere. */
  readonly user: boolean;
  readonly nx: boolean;
  /** The leaf PTE, when the IOMMU may have to set its dirty bit later. */
  readonly ptePa: bigint | undefined;
  /** The IOMMU already set the leaf's dirty bit through this entry (a later write needs no walk). */
  dirtySet: boolean;
  readonly filledAt: number;
}

/** PASID key of host (GN=0) entries. */
export const HOST = -1;

/** One tag's entries: parallel arrays of page sizes (in 4 KiB frames) and their maps. */
interface TagCache {
  readonly domid: number;
  readonly pasid: number;
  readonly frames: number[];
  readonly maps: Array<Map<number, IotlbEntry>>;
}

/** The first frame of the page of `frames` frames holding `frame` (doubles: frames exceed 2^32). */
const baseOf = (frame: number, frames: number) =>
  frames === 1 ? frame : Math.floor(frame / frames) * frames;

/** A tag as one number: DomainID in bits 15:0, PASID + 1 above (0 for host entries). */
const tagKey = (domid: number, pasid: number) => (pasid + 1) * 0x1_0000 + domid;

export class Iotlb {
  readonly #tags = new Map<number, TagCache>();
  /** The tag of the previous lookup: a device streaming DMA asks for the same one again. */
  #lastKey = -1;
  #last: TagCache | undefined;
  #size = 0;
  hits = 0;
  misses = 0;

  constructor(readonly capacity = 4096) {}

  get size(): number {
    return this.#size;
  }

  lookup(domid: number, pasid: number, frame: number): IotlbEntry | undefined {
    const key = tagKey(domid, pasid);
    let t = this.#last;
    if (key !== this.#lastKey) {
      t = this.#tags.get(key);
      this.#lastKey = key;
      this.#last = t;
    }
    if (t !== undefined) {
      const frames = t.frames;
      for (let i = 0; i < frames.length; i++) {
        const e = t.maps[i]!.get(baseOf(frame, frames[i]!));
        if (e !== undefined) {
          this.hits++;
          return e;
        }
      }
    }
    this.misses++;
    return undefined;
  }

  fill(domid: number, pasid: number, frame: number, entry: IotlbEntry): void {
    if (this.#size >= this.capacity) this.#evictOne();
    const key = tagKey(domid, pasid);
    let t = this.#tags.get(key);
    if (!t) {
      this.#tags.set(key, (t = { domid, pasid, frames: [], maps: [] }));
      this.#lastKey = -1;
    }
    const frames = 2 ** (entry.log2Size - 12);
    let i = t.frames.indexOf(frames);
    if (i < 0) {
      i = t.frames.push(frames) - 1;
      t.maps.push(new Map());
    }
    const base = baseOf(frame, frames);
    const map = t.maps[i]!;
    if (!map.has(base)) this.#size++;
    map.set(base, entry);
  }

  /**
   * INVALIDATE_IOMMU_PAGES: entries of `domid` overlapping [start, start+size). With GN=1 only
   * that PASID's; with GN=0 the host entries in range and, because guest translations were
   * built through the host table, every guest entry of the domain.
   */
  invalidate(domid: number, pasid: number | undefined, start: bigint, size: bigint): number {
    let dropped = 0;
    for (const [key, t] of this.#tags) {
      if (t.domid !== domid || (pasid !== undefined && t.pasid !== pasid)) continue;
      const whole = pasid === undefined && t.pasid !== HOST;
      for (let i = 0; i < t.frames.length; i++) {
        const map = t.maps[i]!;
        for (const [base, e] of map) {
          const at = BigInt(base) << 12n;
          if (whole || (at < start + size && at + e.pageSize > start)) {
            map.delete(base);
            dropped++;
          }
        }
      }
      if (t.maps.every((m) => m.size === 0)) this.#forget(key);
    }
    this.#size -= dropped;
    return dropped;
  }

  /** INVALIDATE_IOMMU_ALL. */
  clear(): void {
    this.#tags.clear();
    this.#lastKey = -1;
    this.#last = undefined;
    this.#size = 0;
  }

  /** Every entry, for inspection and invariants. */
  entries(): Array<{ domid: number; pasid: number | undefined; iova: bigint; entry: IotlbEntry }> {
    const out: Array<{ domid: number; pasid: number | undefined; iova: bigint; entry: IotlbEntry }> = [];
    for (const t of this.#tags.values())
      for (const map of t.maps)
        for (const [base, entry] of map)
          out.push({
            domid: t.domid,
            pasid: t.pasid === HOST ? undefined : t.pasid,
            iova: BigInt(base) << 12n,
            entry,
          });
    return out;
  }

  #evictOne(): void {
    // Deterministic: the first entry in insertion order; a real IOTLB may evict at any time.
    for (const [key, t] of this.#tags)
      for (const map of t.maps) {
        const first = map.keys().next();
        if (first.done) continue;
        map.delete(first.value);
        this.#size--;
        if (t.maps.every((m) => m.size === 0)) this.#forget(key);
        return;
      }
  }

  #forget(key: number): void {
    this.#tags.delete(key);
    if (key === this.#lastKey) {
      this.#lastKey = -1;
      this.#last = undefined;
    }
  }
}
