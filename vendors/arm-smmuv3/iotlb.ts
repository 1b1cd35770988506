/**
 * The SMMU's TLB: translations tagged by translation regime, VMID and ASID (gem5's main TLB /
 * QEMU's IOTLB key), one bucket per tag, one map per page size keyed by the page number as a JS
 * number so a hit is two or three Map lookups and no bigint key.
 */
export const REGIME_NS_EL1 = 0; // stage 1 and nested (S1+S2) entries: (VMID, ASID)
export const REGIME_S2 = 1; // stage-2-only entries: (VMID), keyed by IPA
export const REGIME_EL2 = 2; // EL2 (E2H) stage 1: (ASID)

export interface TlbEntry {
  /** Physical base of the page or block. */
  readonly pa: bigint;
  readonly pageSize: bigint;
  /** pageSize - 1, precomputed for the hit path. */
  readonly mask: bigint;
  /** `pa` and `pageSize` as numbers (PAs fit in 53 bits): the hit path avoids bigint arithmetic. */
  readonly paN: number;
  readonly sizeN: number;
  /** Translation table level of the leaf: 3 = 4K, 2 = 2M, 1 = 1G. */
  readonly level: number;
  readonly read: boolean;
  readonly write: boolean;
  /** Writable-clean under HTTU: a write must walk to set the dirty state. */
  readonly dirtyable: boolean;
  readonly exec: boolean;
  readonly filledAt: number;
}

const PER_LEVEL = [1, 512, 512 * 512] as const; // 4K pages per entry at level 3, 2, 1
const MEMO_CAPACITY = 4096;

/** A translation result as `IommuHardware.translate` returns it on a hit. */
export interface MemoResult {
  readonly ok: true;
  readonly pa: bigint;
  readonly pageSize: bigint;
  readonly cached: true;
}

export class TlbBucket {
  /** Index 0: level 3 (4K), 1: level 2 (2M), 2: level 1 (1G). */
  readonly maps: [Map<number, TlbEntry>, Map<number, TlbEntry>, Map<number, TlbEntry>] = [
    new Map(),
    new Map(),
    new Map(),
  ];

  /**
   * Results already handed out for an exact input address (reads / writes), so a repeated
   * access costs one lookup and no bigint arithmetic. Emptied whenever an entry leaves.
   */
  readonly memoRead = new Map<bigint, MemoResult>();
  readonly memoWrite = new Map<bigint, MemoResult>();

  constructor(
    readonly regime: number,
    readonly vmid: number,
    readonly asid: number,
  ) {}

  remember(iova: bigint, write: boolean, result: MemoResult): void {
    const memo = write ? this.memoWrite : this.memoRead;
    if (memo.size >= MEMO_CAPACITY) memo.clear();
    memo.set(iova, result);
  }

  forget(): void {
    this.memoRead.clear();
    this.memoWrite.clear();
  }

  /** The hot path: `vpn` is the 4K page number of the input address. */
  lookup(vpn: number): TlbEntry | undefined {
    const e = this.maps[0].get(vpn);
    if (e !== undefined) return e;
    if (this.maps[1].size !== 0) {
      const b = this.maps[1].get(Math.floor(vpn / 512));
      if (b !== undefined) return b;
    }
    if (this.maps[2].size !== 0) return this.maps[2].get(Math.floor(vpn / 262144));
    return undefined;
  }

  get size(): number {
    return this.maps[0].size + this.maps[1].size + this.maps[2].size;
  }

  clear(): number {
    this.forget();
    const n = this.size;
    for (const m of this.maps) m.clear();
    return n;
  }

  /**
   * Drops entries overlapping 4K pages [firstVpn, lastVpn]. `level` (a TTL hint) limits the
   * drop to entries of that level; 0 means any level.
   */
  clearRange(firstVpn: number, lastVpn: number, level: number): number {
    this.forget();
    let dropped = 0;
    for (let i = 0; i < 3; i++) {
      if (level !== 0 && level !== 3 - i) continue;
      const map = this.maps[i]!;
      if (map.size === 0) continue;
      const per = PER_LEVEL[i]!;
      const lo = Math.floor(firstVpn / per);
      const hi = Math.floor(lastVpn / per);
      if (hi - lo + 1 <= map.size) {
        for (let k = lo; k <= hi; k++) if (map.delete(k)) dropped++;
      } else {
        for (const k of map.keys())
          if (k >= lo && k <= hi) {
            map.delete(k);
            dropped++;
          }
      }
    }
    return dropped;
  }
}

export class Iotlb {
  readonly #buckets = new Map<number, TlbBucket>();
  hits = 0;
  misses = 0;

  constructor(readonly capacityPerBucket = 4096) {}

  bucket(regime: number, vmid: number, asid: number): TlbBucket {
    const tag = regime * 2 ** 32 + vmid * 2 ** 16 + asid;
    let b = this.#buckets.get(tag);
    if (!b) {
      b = new TlbBucket(regime, vmid, asid);
      this.#buckets.set(tag, b);
    }
    return b;
  }

  fill(b: TlbBucket, vpn: number, entry: TlbEntry): void {
    const i = 3 - entry.level;
    const map = b.maps[i as 0 | 1 | 2];
    if (b.size >= this.capacityPerBucket) {
      // A TLB may evict any entry at any time; drop the oldest of this size.
      const first = map.keys().next();
      if (!first.done) map.delete(first.value);
    }
    map.set(Math.floor(vpn / PER_LEVEL[i as 0 | 1 | 2]), entry);
    // A refill may replace an entry some memoised result came from.
    if (b.memoRead.size + b.memoWrite.size > 0) b.forget();
  }

  /** Drops whole buckets' contents (TLBI_*_ALL / _ASID / VMALL); returns the entries dropped. */
  invalidate(match: (b: TlbBucket) => boolean): number {
    let n = 0;
    for (const b of this.#buckets.values()) if (match(b)) n += b.clear();
    return n;
  }

  /** Drops entries of matching buckets overlapping [start, end) (TLBI by VA/IPA). */
  invalidateRange(match: (b: TlbBucket) => boolean, start: bigint, end: bigint, level: number): number {
    if (end <= start) return 0;
    const first = Number(start >> 12n);
    const last = Number((end - 1n) >> 12n);
    let n = 0;
    for (const b of this.#buckets.values()) if (match(b) && b.size > 0) n += b.clearRange(first, last, level);
    return n;
  }

  get size(): number {
    let n = 0;
    for (const b of this.#buckets.values()) n += b.size;
    return n;
  }

  /** Every cached entry with its tag, for inspection and invariants. */
  entries(): Array<{ regime: number; vmid: number; asid: number; iova: bigint; entry: TlbEntry }> {
    const out: Array<{ regime: number; vmid: number; asid: number; iova: bigint; entry: TlbEntry }> = [];
    for (const b of this.#buckets.values()) {
      b.maps.forEach((map, i) => {
        for (const [k, entry] of map)
          out.push({
            regime: b.regime,
            vmid: b.vmid,
            asid: b.asid,
            iova: BigInt(k * PER_LEVEL[i as 0 | 1 | 2]) << 12n,
            entry,
          });
      });
    }
    return out;
  }
}
