/**
 * A device's Address Translation Cache (PCIe ATS): translations the device obtained from its
 * IOMMU with a Translation Request and may reuse without asking again, until the IOMMU sends an
 * ATC invalidation and the device completes it. A missed ATC invalidation is a stale DMA.
 */
export interface AtcEntry {
  readonly pa: bigint;
  readonly pageSize: bigint;
  readonly read: boolean;
  readonly write: boolean;
  /** Virtual time the entry was filled; lets invariants tell stale entries from fresh ones. */
  readonly filledAt: number;
}

/** PASID key of RID (untagged) requests. */
const NO_PASID = -1;

export class DeviceAtc {
  readonly #entries = new Map<string, AtcEntry>();
  hits = 0;
  misses = 0;

  constructor(readonly capacity = 64) {}

  get size(): number {
    return this.#entries.size;
  }

  #key(pasid: number | undefined, pageIova: bigint): string {
    return `${pasid ?? NO_PASID}:${pageIova}`;
  }

  /** A cached translation covering `iova`, for any of the page sizes the device cached. */
  lookup(pasid: number | undefined, iova: bigint, write: boolean): AtcEntry | undefined {
    for (const size of this.#sizes) {
      const e = this.#entries.get(this.#key(pasid, iova - (iova % size)));
      if (e && e.pageSize === size && (write ? e.write : e.read)) {
        this.hits++;
        return e;
      }
    }
    this.misses++;
    return undefined;
  }

  readonly #sizes = new Set<bigint>();

  fill(pasid: number | undefined, iova: bigint, entry: AtcEntry): void {
    if (this.#entries.size >= this.capacity) {
      // Evict the oldest entry: a device may drop ATC entries at any time.
      const first = this.#entries.keys().next();
      if (!first.done) this.#entries.delete(first.value);
    }
    this.#sizes.add(entry.pageSize);
    this.#entries.set(this.#key(pasid, iova - (iova % entry.pageSize)), entry);
  }

  /**
   * Handles an ATC Invalidation Request: every entry of `pasid` (undefined: the RID's; 'all':
   * every PASID) overlapping [iova, iova+size).
   */
  invalidate(pasid: number | undefined | 'all', iova: bigint, size: bigint): number {
    let dropped = 0;
    const end = iova + size;
    for (const [key, e] of this.#entries) {
      const [p, page] = key.split(':') as [string, string];
      const start = BigInt(page);
      const samePasid = pasid === 'all' || Number(p) === (pasid ?? NO_PASID);
      if (samePasid && start < end && start + e.pageSize > iova) {
        this.#entries.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  clear(): void {
    this.#entries.clear();
  }

  /** All entries, for inspection and invariants. */
  entries(): Array<{ pasid: number | undefined; iova: bigint; entry: AtcEntry }> {
    return [...this.#entries].map(([key, entry]) => {
      const [p, page] = key.split(':') as [string, string];
      return { pasid: Number(p) === NO_PASID ? undefined : Number(p), iova: BigInt(page), entry };
    });
  }
}
