import { fail } from '../../actors/iommufd/errno.ts';
import type { DeviceRef, DirtyOps, Domain, PagingDomain } from '../driver.ts';
import { attachRid, setPasid } from './attach.ts';
import type { Smmuv3Driver } from './driver.ts';
import { tlbInvContext, tlbInvRangeDomain } from './invalidate.ts';
import { IoPgtable } from './io-pgtable.ts';
import type { MasterDomain } from './master.ts';
import type { DomainCfg } from './ste-make.ts';

const SZ_4K = 1n << 12n;
const SZ_2M = 1n << 21n;
const SZ_1G = 1n << 30n;

/**
 * `struct arm_smmu_domain` as a paging domain: stage 1 with an ASID for ordinary DMA domains
 * (Linux prefers S1), stage 2 with a VMID for nest parents. Its io-pgtable lives in physical
 * memory; unmap returns only after the TLBI + CMD_SYNC (and ATC_INV + CMD_SYNC) complete.
 */
export class Smmuv3PagingDomain implements PagingDomain {
  readonly kind = 'paging' as const;
  readonly pgsizeBitmap = SZ_4K | SZ_2M | SZ_1G;
  readonly aperture: { readonly start: bigint; readonly end: bigint };
  readonly pgtable: IoPgtable;
  readonly cfg: DomainCfg;
  /** `smmu_domain->devices`: masters (and SSIDs) using this domain, for ATC invalidation. */
  readonly devices: MasterDomain[] = [];
  readonly dirty: DirtyOps | undefined;
  #freed = false;

  constructor(
    readonly driver: Smmuv3Driver,
    readonly stage: 's1' | 's2',
    readonly asid: number,
    readonly vmid: number,
    readonly nestParent: boolean,
    readonly hd: boolean,
  ) {
    // Stage 1 input is min(VA_BITS, 48); stage 2 input is the SMMU's IAS (= OAS here).
    const ias = stage === 's1' ? 48 : driver.features.oas;
    this.pgtable = new IoPgtable(driver.phys, stage === 's1' ? 1 : 2, ias, hd);
    this.aperture = { start: 0n, end: (1n << BigInt(ias)) - 1n };
    this.cfg = { asid, vmid, ias, root: this.pgtable.root, hd };
    this.dirty = hd ? this.#dirtyOps() : undefined;
  }

  async attachDev(dev: DeviceRef, pasid: number | undefined, old: Domain | undefined): Promise<void> {
    // `arm_smmu_attach_dev`: a domain only serves masters of its own SMMU (iommufd then tries another).
    if (!this.driver.owns(dev)) fail('EINVAL', `${dev.name} is not behind ${this.driver.instance}`);
    await this.driver.ready;
    const m = this.driver.master(dev);
    if (pasid === undefined) await attachRid(this.driver, m, this, old);
    else await setPasid(this.driver, m, pasid, this, old);
  }

  map(iova: bigint, pa: bigint, size: bigint, prot: number): void {
    // Stage-1 tables need no flush on map: the SMMU does not cache invalid entries. A table a
    // block replaced needs a walk flush (non-leaf TLBI + sync) before its pages may be reused.
    const replaced = this.pgtable.map(iova, pa, size, prot);
    if (replaced.length === 0) return;
    const prev = this.#mapSync;
    this.#mapSync = (async () => {
      await prev;
      await this.driver.ready;
      for (const s of replaced) {
        if (s.kind !== 'table') continue;
        await tlbInvRangeDomain(this.driver, this, s.iova, s.size, SZ_4K, false);
        this.pgtable.freeTables(s.pfns);
      }
    })();
    this.driver.track(this.#mapSync);
  }

  #mapSync: Promise<void> = Promise.resolve();

  /** `iotlb_sync_map`: resolves once the walk flushes a map needed are done and tables freed. */
  iotlbSyncMap(): Promise<void> {
    return this.#mapSync;
  }

  /**
   * `iommu_unmap`: io-pgtable clears the range; a freed table is flushed (walk flush, non-leaf)
   * before its pages go; leaves gather while contiguous and of one size, and each gather ends
   * with `arm_smmu_iotlb_sync` (range TLBI + sync, ATC_INV + sync).
   */
  async unmap(iova: bigint, size: bigint): Promise<void> {
    const steps = this.pgtable.unmap(iova, size);
    await this.driver.ready;
    let g: { start: bigint; end: bigint; pgsize: bigint } | undefined;
    const sync = async () => {
      if (!g) return;
      const { start, end, pgsize } = g;
      g = undefined;
      await tlbInvRangeDomain(this.driver, this, start, end - start, pgsize, true);
    };
    for (const s of steps) {
      if (s.kind === 'table') {
        await tlbInvRangeDomain(this.driver, this, s.iova, s.size, SZ_4K, false);
        this.pgtable.freeTables(s.pfns);
        continue;
      }
      if (g && (g.pgsize !== s.size || g.end !== s.iova)) await sync();
      g ??= { start: s.iova, end: s.iova, pgsize: s.size };
      g.end = s.iova + s.size;
    }
    await sync();
  }

  iovaToPhys(iova: bigint): bigint | undefined {
    return this.pgtable.iovaToPhys(iova);
  }

  /**
   * `arm_smmu_domain_free_paging`: `free_io_pgtable_ops` flushes the whole context first
   * (TLBI_NH_ASID or TLBI_S12_VMALL + sync); only then are the tables and the ASID/VMID reused.
   */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.driver.track(
      (async () => {
        await this.driver.ready;
        await tlbInvContext(this.driver, this);
        this.pgtable.freeAll();
        this.driver.releaseTag(this);
      })(),
    );
  }

  #dirtyOps(): DirtyOps {
    return {
      // HTTU dirty state is always on for a domain allocated with DIRTY_TRACKING.
      setTracking: async () => {},
      // Linux's iotlb_sync after read-and-clear is a no-op here (the gather has no pgsize):
      // the SMMU re-checks DBM pages on writes (see translate), so no flush is issued.
      readAndClear: async (iova, length, noClear, record) => {
        this.pgtable.readAndClearDirty(iova, length, noClear, record);
      },
    };
  }
}
