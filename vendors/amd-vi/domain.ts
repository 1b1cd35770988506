import { fail } from '../../actors/iommufd/errno.ts';
import type { DeviceRef, DirtyOps, Domain, PagingDomain } from '../driver.ts';
import { IOMMU_READ, IOMMU_WRITE } from '../driver.ts';
import type { DevData } from './dev-data.ts';
import type { AmdViDriver } from './driver.ts';

/**
 * A paging domain of the AMD-Vi driver (struct protection_domain): a DomainID, a v1 or v2 table
 * in physical memory, the devices whose RID it translates and the (device, PASID) pairs of a v2
 * domain. `map` writes the table; `unmap` clears it, then flushes as amd_iommu does before
 * resolving.
 */
export abstract class AmdPagingDomain implements PagingDomain {
  readonly kind = 'paging' as const;
  abstract readonly pgtable: 'v1' | 'v2';
  readonly devices = new Set<DevData>();
  readonly pasids = new Map<DevData, Set<number>>();
  readonly dirty?: DirtyOps;
  /** Page sizes, largest first. */
  readonly #sizes: number[] = [];

  constructor(
    readonly driver: AmdViDriver,
    readonly id: number,
    readonly pgsizeBitmap: bigint,
    readonly aperture: { readonly start: bigint; readonly end: bigint },
    readonly nestParent: boolean,
  ) {
    for (let bit = 63; bit >= 12; bit--) if (pgsizeBitmap & (1n << BigInt(bit))) this.#sizes.push(bit);
  }

  /** The table root the DTE (v1) or the GCR3 entry (v2) points at. */
  abstract readonly root: bigint;
  abstract iovaToPhys(iova: bigint): bigint | undefined;
  /** Writes one page; returns table pages to free once the IOMMU cannot reach them. */
  protected abstract mapPage(iova: bigint, pa: bigint, log2Size: number, prot: number): bigint[];
  protected abstract clear(iova: bigint, size: bigint): void;
  protected abstract release(tables: readonly bigint[]): void;
  protected abstract destroyTable(): void;

  /** Whether any device (RID or PASID) can be caching translations of this domain. */
  get attached(): boolean {
    return this.devices.size > 0 || this.pasids.size > 0;
  }

  attachDev(dev: DeviceRef, pasid: number | undefined, old: Domain | undefined): Promise<void> {
    return this.driver.attach(this, dev, pasid, old);
  }

  free(): void {
    this.destroyTable();
    this.driver.freeDomainId(this.id);
  }

  /** `iommu_map`: the largest page size that alignment and length allow, all or nothing. */
  map(iova: bigint, pa: bigint, size: bigint, prot: number): void {
    if ((iova | pa | size) & 0xfffn) throw new Error(`amd-vi map misaligned: ${iova} ${pa} ${size}`);
    if (!(prot & (IOMMU_READ | IOMMU_WRITE))) fail('EINVAL', 'mapping without IOMMU_READ or IOMMU_WRITE');
    let done = 0n;
    const freed: bigint[] = [];
    let error: unknown;
    try {
      while (done < size) {
        const at = iova + done;
        const log2 = this.#sizes.find((s) => {
          const bytes = 1n << BigInt(s);
          return ((at | (pa + done)) & (bytes - 1n)) === 0n && size - done >= bytes;
        })!;
        freed.push(...this.mapPage(at, pa + done, log2, prot));
        done += 1n << BigInt(log2);
      }
    } catch (err) {
      error = err;
      this.clear(iova, done);
    }
    // Replaced PDEs: flush with PDE=1 before their tables go back (iommu_v1_map_pages; v2 has
    // the same `updated` flush), even when the map failed after unlinking some.
    if (freed.length > 0) {
      const prev = this.#mapSync;
      this.#mapSync = prev.then(() => this.driver.flushAllThen(this, () => this.release(freed)));
    }
    if (error !== undefined) throw error;
  }

  #mapSync: Promise<void> = Promise.resolve();

  /** `iotlb_sync_map`: resolves once the flush a map needed is done and its tables freed. */
  iotlbSyncMap(): Promise<void> {
    return this.#mapSync;
  }

  async unmap(iova: bigint, size: bigint): Promise<void> {
    this.clear(iova, size);
    await this.driver.flushPages(this, iova, size);
  }
}
