import { fail } from '../../actors/iommufd/errno.ts';
import * as R from './regs.ts';

/** `host.addIommu({ name, vendor: 'amd-vi', ...options })`. */
export interface AmdViOptions {
  /** Raw EFR / EFR2; when given, the feature options below are ignored. */
  readonly efr?: bigint;
  readonly efr2?: bigint;
  /** Host (v1) levels the IOMMU walks: 4 (default), 5 or 6 (EFR.HATS). */
  readonly hostLevels?: number;
  /** Guest (v2) levels: 4 (default) or 5 (EFR.GATS). */
  readonly guestLevels?: number;
  /** HDSup/HASup: dirty tracking (default true). */
  readonly dirty?: boolean;
  /** PPR log, GT, EPHSup: PASIDs and page requests (default true). */
  readonly pasid?: boolean;
  /** INVALIDATE_IOMMU_ALL (EFR.IA, default true). */
  readonly invalidateAll?: boolean;
  /** PASmax + 1 (default 16). */
  readonly pasidBits?: number;
  readonly npCache?: boolean;
  /** IotlbSup: ATS for ATS-capable devices (default true). */
  readonly ats?: boolean;
  readonly pgtable?: 'v1' | 'v2';
  readonly cmdNs?: number;
  readonly linkNs?: number;
  readonly iotlbEntries?: number;
  /** DTEs in the device table (default 65536: every BDF of the segment). */
  readonly deviceIds?: number;
}

export interface ResolvedOptions {
  readonly efr: bigint;
  readonly efr2: bigint;
  readonly npCache: boolean;
  readonly ats: boolean;
  readonly pgtable: 'v1' | 'v2';
  readonly cmdNs: number;
  readonly linkNs: number;
  readonly iotlbEntries: number;
  readonly deviceIds: number;
}

function flag(v: unknown, dflt: boolean): boolean {
  return v === undefined ? dflt : v === true;
}

/** A default EFR of a recent EPYC-like IOMMU: GT, IA, PPR, PC, GIOSup, HASup/HDSup, EPHSup, GLX=1. */
function buildEfr(o: AmdViOptions): bigint {
  const hats = BigInt((o.hostLevels ?? 4) - 4);
  if (hats < 0n || hats > 2n) fail('EINVAL', `hostLevels ${o.hostLevels}`);
  const gats = o.guestLevels === 5 ? 1n : 0n;
  const pasid = flag(o.pasid, true);
  let efr = R.FEATURE_PC | (hats << R.FEATURE_HATS_SHIFT) | (gats << R.FEATURE_GATS_SHIFT) | R.FEATURE_NX;
  if (flag(o.invalidateAll, true)) efr |= R.FEATURE_IA;
  if (pasid) {
    efr |= R.FEATURE_PPR | R.FEATURE_GT | R.FEATURE_EPHSUP | R.FEATURE_GIOSUP | (1n << R.FEATURE_GLX_SHIFT);
    efr |= BigInt((o.pasidBits ?? 16) - 1) << R.FEATURE_PASMAX_SHIFT;
  }
  if (flag(o.dirty, true)) efr |= R.FEATURE_HASUP | R.FEATURE_HDSUP;
  return efr;
}

export function resolveOptions(raw: Readonly<Record<string, unknown>>): ResolvedOptions {
  const o = raw as AmdViOptions;
  return {
    efr: typeof o.efr === 'bigint' ? o.efr : buildEfr(o),
    efr2: typeof o.efr2 === 'bigint' ? o.efr2 : R.FEATURE2_GCR3TRPMODE,
    npCache: flag(o.npCache, false),
    ats: flag(o.ats, true),
    pgtable: o.pgtable === 'v2' ? 'v2' : 'v1',
    cmdNs: o.cmdNs ?? 50,
    linkNs: o.linkNs ?? 200,
    iotlbEntries: o.iotlbEntries ?? 4096,
    deviceIds: o.deviceIds ?? 0x10000,
  };
}
