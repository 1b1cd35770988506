import { QI_GRAN_DSI, QI_GRAN_GLOBAL, QI_GRAN_PSI, QI_PC_GLOBAL, QI_PC_PASID_SEL } from './descriptors.ts';
import type { DeviceInfo } from './device-info.ts';
import {
  ALL_PAGES,
  descCc,
  descDevIotlb,
  descDevIotlbPasid,
  descIotlb,
  descPc,
  descPiotlb,
  MAX_AGAW_PFN_WIDTH,
  type RawDesc,
} from './qi-encode.ts';
import type { QiResult, QiSubmitter } from './qi-submit.ts';
import { capDrd, capDwd } from './regs.ts';

/**
 * Fault-injection switches: each makes the driver forget one step of the Linux flush sequence,
 * the way real bugs do. Settable at runtime through `(instance.driver as VtdDriver).faults`.
 */
export interface VtdFaults {
  /** iotlb_inv_dsc / p_iotlb_inv_dsc are left out. */
  skipIotlbInvalidation: boolean;
  /** dev_tlb_inv_dsc / p_dev_tlb_inv_dsc are left out. */
  skipAtcInvalidation: boolean;
  /** pc_inv_dsc is left out when a present PASID entry changes. */
  skipPasidCacheInvalidation: boolean;
  /** Submissions return without waiting for their inv_wait. */
  skipSync: boolean;
  /** IOTLB invalidations name the wrong domain ID. */
  wrongTag: boolean;
}

export const noFaults = (): VtdFaults => ({
  skipIotlbInvalidation: false,
  skipAtcInvalidation: false,
  skipPasidCacheInvalidation: false,
  skipSync: false,
  wrongTag: false,
});

/** `IOMMU_NO_PASID`: the PASID Linux uses for requests without one (RID_PASID). */
export const IOMMU_NO_PASID = 0;
/** `QI_MAX_BATCHED_DESC_COUNT`. */
const MAX_BATCH = 16;

/**
 * The driver's invalidation helpers (dmar.c `qi_flush_*`, pasid.c, cache.c): each builds the
 * descriptors Linux builds and submits them with one trailing wait.
 */
export class Flusher {
  readonly #drain: { dr: boolean; dw: boolean };

  constructor(
    private readonly qi: QiSubmitter,
    cap: bigint,
    /** The switches in force now (the driver's own, or'ed with the farm's). */
    private readonly faults: () => VtdFaults,
  ) {
    this.#drain = { dr: capDrd(cap), dw: capDwd(cap) };
  }

  /** Submits `descs` minus the ones a fault switch drops; nothing at all if none remain. */
  async submit(descs: readonly RawDesc[], drain = false): Promise<QiResult> {
    const kept = descs.filter((d) => this.#keep(d));
    let rc: QiResult = 0;
    for (let i = 0; i < kept.length; i += MAX_BATCH) {
      const r = await this.qi.submit(kept.slice(i, i + MAX_BATCH), drain);
      if (r) rc = r;
    }
    return rc;
  }

  iotlb(did: number, addr: bigint, ih: boolean, sizeOrder: number, gran: number): RawDesc {
    return descIotlb(this.#did(did), addr, ih, sizeOrder, gran, this.#drain);
  }

  piotlb(did: number, pasid: number, addr: bigint, npages: bigint, ih: boolean): RawDesc {
    return descPiotlb(this.#did(did), pasid, addr, npages, ih);
  }

  /** `devtlb_invalidation_with_pasid`'s descriptor: the whole device TLB, by RID or by PASID. */
  devtlbAll(info: DeviceInfo, pasid: number): RawDesc[] {
    if (!info.atsSupported) return [];
    if (pasid === IOMMU_NO_PASID)
      return [descDevIotlb(info.sid, info.pfsid, info.atsQdep, 0n, MAX_AGAW_PFN_WIDTH)];
    return [descDevIotlbPasid(info.sid, info.pfsid, pasid, info.atsQdep, 0n, MAX_AGAW_PFN_WIDTH)];
  }

  /** Boot: global context, PASID-cache and IOTLB flushes, one submission each. */
  async global(): Promise<void> {
    await this.qi.submit([descCc(0, 0, 0, QI_GRAN_GLOBAL)]);
    await this.qi.submit([descPc(0, 0, QI_PC_GLOBAL)]);
    await this.qi.submit([descIotlb(0, 0n, false, 0, QI_GRAN_GLOBAL, this.#drain)]);
  }

  /** `pasid_cache_invalidation_with_pasid`. */
  pasidCache(did: number, pasid: number): Promise<QiResult> {
    return this.submit([descPc(did, pasid, QI_PC_PASID_SEL)]);
  }

  /** `qi_flush_piotlb(iommu, did, pasid, 0, -1, 0)`: everything of (DID, PASID). */
  piotlbAll(did: number, pasid: number): Promise<QiResult> {
    return this.submit([this.piotlb(did, pasid, 0n, ALL_PAGES, false)]);
  }

  /** `flush_iotlb(iommu, did, 0, 0, DMA_TLB_DSI_FLUSH)`. */
  iotlbDsi(did: number): Promise<QiResult> {
    return this.submit([this.iotlb(did, 0n, false, 0, QI_GRAN_DSI)]);
  }

  devtlbWithPasid(info: DeviceInfo, pasid: number): Promise<QiResult> {
    const d = this.devtlbAll(info, pasid);
    return d.length ? this.submit(d) : Promise.resolve(0);
  }

  psi(did: number, addr: bigint, ih: boolean, mask: number): RawDesc {
    return this.iotlb(did, addr, ih, mask, QI_GRAN_PSI);
  }

  #did(did: number): number {
    return this.faults().wrongTag ? did ^ 1 : did;
  }

  #keep(d: RawDesc): boolean {
    const type = Number(d[0] & 0xfn);
    const f = this.faults();
    if ((type === 0x2 || type === 0x6) && f.skipIotlbInvalidation) return false;
    if ((type === 0x3 || type === 0x8) && f.skipAtcInvalidation) return false;
    if (type === 0x7 && f.skipPasidCacheInvalidation) return false;
    return true;
  }
}
