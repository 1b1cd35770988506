import { get32 } from './bits.ts';
import {
  IDR0_ASID16,
  IDR0_ATS,
  IDR0_CD2L,
  IDR0_COHACC,
  IDR0_HTTU_ACCESS_DIRTY,
  IDR0_HYP,
  IDR0_MSI,
  IDR0_PRI,
  IDR0_S1P,
  IDR0_S2P,
  IDR0_SEV,
  IDR0_ST_LVL_2LVL,
  IDR0_STALL_MODEL_NONE,
  IDR0_STALL_MODEL_STALL,
  IDR0_TERM_MODEL,
  IDR0_TTENDIAN_LE,
  IDR0_TTF_AARCH64,
  IDR0_VMID16,
  IDR3_RIL,
  IDR5_GRAN4K,
  OAS_BITS,
} from './regs.ts';

/**
 * Vendor options of `host.addIommu({ vendor: 'arm-smmuv3', ... })`. Defaults model a current
 * Arm MMU-700-class part: 2-level stream table, both stages, ATS/PRI, HTTU dirty, range TLBI.
 */
export interface Smmuv3Options {
  readonly sidBits?: number;
  readonly ssidBits?: number;
  readonly twoLevelStrtab?: boolean;
  readonly cd2l?: boolean;
  readonly stage1?: boolean;
  readonly stage2?: boolean;
  readonly ats?: boolean;
  readonly pri?: boolean;
  readonly hyp?: boolean;
  readonly ril?: boolean;
  /** IDR0.HTTU: 0 none, 1 access flag, 2 access flag + dirty state. */
  readonly httu?: 0 | 1 | 2;
  readonly msi?: boolean;
  readonly sev?: boolean;
  readonly coherent?: boolean;
  readonly stall?: boolean;
  /** Output address size in bits (one of 32 36 40 42 44 48). */
  readonly oas?: number;
  /** Queue sizes (log2 entries) the driver programs. */
  readonly cmdqLog2?: number;
  readonly evtqLog2?: number;
  readonly priqLog2?: number;
  /** Virtual time per command consumed, the fabric latency to a device's ATC, and the ATC timeout. */
  readonly cmdNs?: number;
  readonly atcLatencyNs?: number;
  readonly atcTimeoutNs?: number;
  readonly iotlbCapacity?: number;
  /** Honour TLBI TTL hints strictly: an entry at another level survives (the architecture allows it). */
  readonly strictTtl?: boolean;
  /** Linux polls CMD_SYNC completion through an MSI written over the sync itself (ARM_SMMU_OPT_MSIPOLL). */
  readonly msiPoll?: boolean;
}

/** What the ID registers say, decoded once (arm_smmu_device_hw_probe). */
export interface Smmuv3Features {
  readonly sidBits: number;
  readonly ssidBits: number;
  readonly twoLevelStrtab: boolean;
  readonly cd2l: boolean;
  readonly s1: boolean;
  readonly s2: boolean;
  readonly ats: boolean;
  readonly pri: boolean;
  readonly hyp: boolean;
  readonly ril: boolean;
  readonly httu: number;
  readonly msi: boolean;
  readonly sev: boolean;
  readonly coherent: boolean;
  readonly stall: boolean;
  readonly vmid16: boolean;
  readonly asid16: boolean;
  readonly oas: number;
  readonly cmdqsMax: number;
  readonly evtqsMax: number;
  readonly priqsMax: number;
}

export interface IdRegisters {
  readonly idr: readonly [number, number, number, number, number, number];
  readonly iidr: number;
  readonly aidr: number;
}

const flag = (on: boolean | undefined, def: boolean, bit: number) => ((on ?? def) ? bit : 0);

/** IDR0..5, IIDR (Arm MMU-700 r1p0) and AIDR (SMMUv3.2) for the options. */
export function buildIdRegisters(o: Smmuv3Options): IdRegisters {
  const oasEnc = OAS_BITS.indexOf((o.oas ?? 48) as (typeof OAS_BITS)[number]);
  if (oasEnc < 0 || oasEnc > 5) throw new RangeError(`arm-smmuv3: unsupported oas ${o.oas}`);
  const stall = o.stall ?? true;
  const idr0 =
    ((o.twoLevelStrtab ?? true) ? IDR0_ST_LVL_2LVL << 27 : 0) |
    IDR0_TERM_MODEL |
    ((stall ? IDR0_STALL_MODEL_STALL : IDR0_STALL_MODEL_NONE) << 24) |
    (IDR0_TTENDIAN_LE << 21) |
    flag(o.cd2l, true, IDR0_CD2L) |
    IDR0_VMID16 |
    flag(o.pri, true, IDR0_PRI) |
    flag(o.sev, true, IDR0_SEV) |
    flag(o.msi, true, IDR0_MSI) |
    IDR0_ASID16 |
    flag(o.ats, true, IDR0_ATS) |
    flag(o.hyp, true, IDR0_HYP) |
    ((o.httu ?? IDR0_HTTU_ACCESS_DIRTY) << 6) |
    flag(o.coherent, true, IDR0_COHACC) |
    (IDR0_TTF_AARCH64 << 2) |
    flag(o.stage1, true, IDR0_S1P) |
    flag(o.stage2, true, IDR0_S2P);
  const sidBits = o.sidBits ?? 16;
  const ssidBits = o.ssidBits ?? 20;
  if (sidBits < 1 || sidBits > 32 || ssidBits < 0 || ssidBits > 20)
    throw new RangeError('arm-smmuv3: sid/ssid bits');
  const idr1 = (19 << 21) | (19 << 16) | (19 << 11) | (ssidBits << 6) | sidBits;
  const idr3 = flag(o.ril, true, IDR3_RIL) | (1 << 11);
  const idr5 = (0x60 << 16) | IDR5_GRAN4K | oasEnc;
  const iidr = ((0x487 << 20) | (0 << 16) | (1 << 12) | 0x43b) >>> 0;
  return { idr: [idr0 >>> 0, idr1 >>> 0, 0, idr3, 0, idr5 >>> 0], iidr, aidr: 0x02 };
}

export function parseFeatures(r: IdRegisters): Smmuv3Features {
  const [idr0, idr1, , idr3, , idr5] = r.idr;
  return {
    sidBits: get32(idr1, 5, 0),
    ssidBits: get32(idr1, 10, 6),
    twoLevelStrtab: get32(idr0, 28, 27) === IDR0_ST_LVL_2LVL,
    cd2l: (idr0 & IDR0_CD2L) !== 0,
    s1: (idr0 & IDR0_S1P) !== 0,
    s2: (idr0 & IDR0_S2P) !== 0,
    ats: (idr0 & IDR0_ATS) !== 0,
    pri: (idr0 & IDR0_PRI) !== 0,
    hyp: (idr0 & IDR0_HYP) !== 0,
    ril: (idr3 & IDR3_RIL) !== 0,
    httu: get32(idr0, 7, 6),
    msi: (idr0 & IDR0_MSI) !== 0,
    sev: (idr0 & IDR0_SEV) !== 0,
    coherent: (idr0 & IDR0_COHACC) !== 0,
    stall: get32(idr0, 25, 24) !== IDR0_STALL_MODEL_NONE,
    vmid16: (idr0 & IDR0_VMID16) !== 0,
    asid16: (idr0 & IDR0_ASID16) !== 0,
    oas: OAS_BITS[get32(idr5, 2, 0)] ?? 48,
    cmdqsMax: get32(idr1, 25, 21),
    evtqsMax: get32(idr1, 20, 16),
    priqsMax: get32(idr1, 15, 11),
  };
}
