import { fail } from '../../actors/iommufd/errno.ts';
import type { DeviceInfo } from './device-info.ts';
import {
  AW_48,
  EMPTY_PASID_ENTRY,
  type PasidEntry,
  PGTT_FL_ONLY,
  PGTT_NESTED,
  PGTT_PT,
  PGTT_SL_ONLY,
} from './entries.ts';
import type { Flusher } from './flush.ts';

/** What a PASID entry is built from: one of the four translation types. */
export type PasidConfigSpec =
  | { readonly pgtt: typeof PGTT_FL_ONLY; readonly did: number; readonly fsptptr: bigint }
  | {
      readonly pgtt: typeof PGTT_SL_ONLY;
      readonly did: number;
      readonly ssptptr: bigint;
      readonly ssade: boolean;
    }
  | {
      readonly pgtt: typeof PGTT_NESTED;
      readonly did: number;
      readonly fsptptr: bigint;
      readonly ssptptr: bigint;
      readonly ssade: boolean;
      readonly addrWidth: number;
      readonly sre: boolean;
      readonly wpe: boolean;
      readonly eafe: boolean;
    }
  | { readonly pgtt: typeof PGTT_PT; readonly did: number };

/**
 * `pasid_pte_config_{first,second}_level`, `_nestd`, `_pass_through`: the entry Linux writes,
 * FPD clear, page-walk snoop per ECAP.SMPWC, AW from the unit's AGAW (48-bit), present.
 */
export function buildPasidEntry(spec: PasidConfigSpec, smpwc: boolean): PasidEntry {
  const base: PasidEntry = {
    ...EMPTY_PASID_ENTRY,
    p: true,
    did: spec.did,
    aw: AW_48,
    pgtt: spec.pgtt,
    pwsnp: smpwc,
  };
  switch (spec.pgtt) {
    case PGTT_FL_ONLY:
      return { ...base, fsptptr: spec.fsptptr };
    case PGTT_SL_ONLY:
      return { ...base, ssptptr: spec.ssptptr, ssade: spec.ssade };
    case PGTT_NESTED:
      return {
        ...base,
        fsptptr: spec.fsptptr,
        flpm: spec.addrWidth === 57 ? 1 : 0,
        sre: spec.sre,
        wpe: spec.sre && spec.wpe,
        eafe: spec.eafe,
        ssptptr: spec.ssptptr,
        ssade: spec.ssade,
      };
    default:
      return { ...base, pwsnp: false };
  }
}

/** The pasid.c operations on one device's PASID table, each with Linux's flush sequence. */
export class PasidOps {
  constructor(
    private readonly flusher: Flusher,
    private readonly smpwc: boolean,
  ) {}

  /**
   * `intel_pasid_setup_*`: a not-present entry becomes present. With CM=0 a not-present entry is
   * never cached, so no invalidation is needed (Linux: only a write-buffer flush).
   */
  setup(info: DeviceInfo, pasid: number, spec: PasidConfigSpec): void {
    const old = info.readEntry(pasid);
    if (!old) fail('ENODEV', `PASID ${pasid} beyond the device's table`);
    if (old.p) fail('EBUSY', `PASID ${pasid} entry is present`);
    info.writeEntry(pasid, buildPasidEntry(spec, this.smpwc));
  }

  /** `intel_pasid_replace_*`: a present entry changes in place, then `intel_pasid_flush_present`. */
  async replace(info: DeviceInfo, pasid: number, spec: PasidConfigSpec, oldDid: number): Promise<void> {
    const old = info.readEntry(pasid);
    if (!old?.p) fail('EINVAL', `PASID ${pasid} entry is not present`);
    info.writeEntry(pasid, buildPasidEntry(spec, this.smpwc));
    await this.flushPresent(info, pasid, oldDid);
  }

  /**
   * `intel_pasid_flush_present` (VT-d table 28): PASID-selective-within-domain PASID-cache,
   * PASID-selective p_iotlb, then the device TLB (whole, or the PASID's). One submission each.
   */
  async flushPresent(info: DeviceInfo, pasid: number, did: number): Promise<void> {
    await this.flusher.pasidCache(did, pasid);
    await this.flusher.piotlbAll(did, pasid);
    await this.flusher.devtlbWithPasid(info, pasid);
  }

  /**
   * `intel_pasid_tear_down_entry`: clear the entry (present word first), then PASID cache,
   * IOTLB (p_iotlb for first-stage/pass-through, DSI otherwise) and device TLB. Returns the
   * DID it had, or undefined if nothing was present.
   */
  async tearDown(info: DeviceInfo, pasid: number, faultIgnore: boolean): Promise<number | undefined> {
    const pe = info.readEntry(pasid);
    if (!pe) return undefined;
    if (!pe.p) {
      if (pe.fpd) info.clearEntry(pasid);
      return undefined;
    }
    info.clearEntry(pasid, faultIgnore);
    await this.flusher.pasidCache(pe.did, pasid);
    if (pe.pgtt === PGTT_PT || pe.pgtt === PGTT_FL_ONLY) await this.flusher.piotlbAll(pe.did, pasid);
    else await this.flusher.iotlbDsi(pe.did);
    await this.flusher.devtlbWithPasid(info, pasid);
    return pe.did;
  }

  /**
   * `intel_pasid_setup_dirty_tracking`: flips SSADE of a second-stage or nested entry, then
   * PASID cache, DSI IOTLB and device TLB (VT-d table 25).
   */
  async setDirtyTracking(info: DeviceInfo, pasid: number, enable: boolean): Promise<void> {
    const pe = info.readEntry(pasid);
    if (!pe?.p) fail('ENODEV', `PASID ${pasid} entry is not present`);
    if (pe.pgtt !== PGTT_SL_ONLY && pe.pgtt !== PGTT_NESTED)
      fail('EINVAL', 'dirty tracking needs a second stage');
    if (pe.ssade === enable) return;
    info.writeEntry(pasid, { ...pe, ssade: enable });
    await this.flusher.pasidCache(pe.did, pasid);
    await this.flusher.iotlbDsi(pe.did);
    await this.flusher.devtlbWithPasid(info, pasid);
  }
}
