/**
 * The VT-d register file: offsets, command/status bits and the CAP/ECAP encodings, as
 * drivers/iommu/intel/iommu.h names them. Registers are little endian MMIO; 64-bit registers
 * are read and written whole.
 */

export const DMAR_VER_REG = 0x00;
export const DMAR_CAP_REG = 0x08;
export const DMAR_ECAP_REG = 0x10;
export const DMAR_GCMD_REG = 0x18;
export const DMAR_GSTS_REG = 0x1c;
export const DMAR_RTADDR_REG = 0x20;
export const DMAR_CCMD_REG = 0x28;
export const DMAR_FSTS_REG = 0x34;
export const DMAR_FECTL_REG = 0x38;
export const DMAR_FEDATA_REG = 0x3c;
export const DMAR_FEADDR_REG = 0x40;
export const DMAR_FEUADDR_REG = 0x44;
export const DMAR_IQH_REG = 0x80;
export const DMAR_IQT_REG = 0x88;
export const DMAR_IQA_REG = 0x90;
export const DMAR_ICS_REG = 0x9c;
export const DMAR_IECTL_REG = 0xa0;
export const DMAR_IEDATA_REG = 0xa4;
export const DMAR_IEADDR_REG = 0xa8;
export const DMAR_IEUADDR_REG = 0xac;
export const DMAR_IQER_REG = 0xb0;
export const DMAR_PQH_REG = 0xc0;
export const DMAR_PQT_REG = 0xc8;
export const DMAR_PQA_REG = 0xd0;
export const DMAR_PRS_REG = 0xdc;
export const DMAR_PECTL_REG = 0xe0;
export const DMAR_PEDATA_REG = 0xe4;
export const DMAR_PEADDR_REG = 0xe8;
export const DMAR_PEUADDR_REG = 0xec;

/** GCMD/GSTS bits (a command bit and its status bit share the position). */
export const DMA_GCMD_TE = 1 << 31;
export const DMA_GCMD_SRTP = 1 << 30;
export const DMA_GCMD_QIE = 1 << 26;
export const DMA_GSTS_TES = 1 << 31;
export const DMA_GSTS_RTPS = 1 << 30;
export const DMA_GSTS_QIES = 1 << 26;

/** RTADDR_REG.TTM (bits 11:10): 01b = scalable mode, 11b = abort DMA. */
export const DMA_RTADDR_SMT = 1n << 10n;
export const DMA_RTADDR_TTM_SHIFT = 10n;

/** FSTS bits. FRI (15:8) is the first pending fault record. */
export const DMA_FSTS_PFO = 1 << 0;
export const DMA_FSTS_PPF = 1 << 1;
export const DMA_FSTS_IQE = 1 << 4;
export const DMA_FSTS_ICE = 1 << 5;
export const DMA_FSTS_ITE = 1 << 6;
export const DMA_FSTS_PRO = 1 << 7;
export const DMA_FSTS_FRI_SHIFT = 8;

/** FECTL / IECTL / PECTL: interrupt mask and pending. */
export const DMA_CTL_IM = 1 << 31;
export const DMA_CTL_IP = 1 << 30;

/** ICS.IWC: an inv_wait with IF=1 completed. */
export const DMA_ICS_IWC = 1;

/** PRS: page request pending / overflow. */
export const DMA_PRS_PPR = 1;
export const DMA_PRS_PRO = 2;

/** IQA_REG: DW (256-bit descriptors) and QS (2^QS pages). */
export const DMA_IQA_DW = 1n << 11n;
export const DMA_IQA_QS_MASK = 7n;

/** IQER: IQEI 3:0, ITESID 47:32, ICESID 63:48. */
export const DMAR_IQER_ITESID_SHIFT = 32n;

/** IQEI codes the model reports (VT-d 4.x §11.4.9.9; the numbering is this model's). */
export const IQEI = {
  TAIL_RSVD: 1,
  FETCH: 2,
  INVALID: 3,
  WIDTH: 4,
  TAIL_RANGE: 5,
} as const;

/** Features of one simulated VT-d unit; the defaults describe a current server part. */
export interface VtdFeatures {
  /** ECAP.SSADS: second-stage A/D bits (dirty tracking). */
  readonly ssads: boolean;
  /** ECAP.NEST: nested (PGTT=3) translation. */
  readonly nest: boolean;
  /** ECAP.FSTS: first-stage translation; paging domains prefer it when set. */
  readonly fsts: boolean;
  /** ECAP.PRS: page requests. */
  readonly prs: boolean;
  /** ECAP.DT: device-TLB (ATS). */
  readonly dt: boolean;
  /** ECAP.PSS + 1: PASID bits supported. */
  readonly pasidBits: number;
  /** CAP.SLLPS bits: 1 = 2 MiB, 2 = 1 GiB second-stage pages. */
  readonly sllps: number;
  /** CAP.FS1GP: 1 GiB first-stage pages. */
  readonly fs1gp: boolean;
  /** CAP.NFR + 1: fault recording registers. */
  readonly nfr: number;
  /** CAP.MAMV: largest address mask of a page-selective invalidation. */
  readonly mamv: number;
}

export const DEFAULT_FEATURES: VtdFeatures = {
  ssads: true,
  nest: true,
  fsts: true,
  prs: true,
  dt: true,
  pasidBits: 20,
  sllps: 3,
  fs1gp: true,
  nfr: 8,
  mamv: 18,
};

/** Fault recording registers start at FRO * 16. */
export const FRO = 0x20;
export const FRCD_BASE = FRO * 16;
/** IOTLB registers (unused: this model needs QI) at IRO * 16. */
const IRO = 0x50;
/** SAGAW: 39-bit (3-level) and 48-bit (4-level) second-stage tables. */
export const SAGAW = 0b00110;
/** MGAW: 48-bit guest address width; the host address width is the same. */
export const MGAW = 48;

const bit = (cond: boolean, pos: number): bigint => (cond ? 1n << BigInt(pos) : 0n);
const field = (value: number, pos: number): bigint => BigInt(value) << BigInt(pos);

/** CAP_REG as `cap_*()` in iommu.h decodes it. */
export function capReg(f: VtdFeatures): bigint {
  return (
    field(6, 0) | // ND: 2^16 domain IDs
    field(SAGAW, 8) |
    field(MGAW - 1, 16) |
    bit(true, 22) | // ZLR
    field(FRO, 24) |
    field(f.sllps & 0xf, 34) |
    bit(true, 39) | // PSI
    field(f.nfr - 1, 40) |
    field(f.mamv, 48) |
    bit(true, 54) | // DWD
    bit(true, 55) | // DRD
    bit(f.fs1gp, 56)
  );
}

/** ECAP_REG as `ecap_*()` in iommu.h decodes it. */
export function ecapReg(f: VtdFeatures): bigint {
  return (
    bit(true, 0) | // C: page-walk coherency
    bit(true, 1) | // QI
    bit(f.dt, 2) |
    bit(true, 3) | // IR
    bit(true, 4) | // EIM
    bit(true, 6) | // PT
    bit(true, 7) | // SC
    field(IRO, 8) |
    field(0xf, 20) | // MHMV
    bit(f.nest, 26) |
    bit(f.prs, 29) |
    bit(true, 31) | // SRS
    field(Math.max(f.pasidBits - 1, 0), 35) |
    bit(f.pasidBits > 0, 40) |
    bit(true, 41) | // DIT
    bit(true, 42) | // PDS
    bit(true, 43) | // SMTS
    bit(f.ssads, 45) |
    bit(true, 46) | // SSTS
    bit(f.fsts, 47) |
    bit(true, 48) // SMPWCS
  );
}

export const capSagaw = (cap: bigint): number => Number((cap >> 8n) & 0x1fn);
export const capSllps = (cap: bigint): number => Number((cap >> 34n) & 0xfn);
export const capFs1gp = (cap: bigint): boolean => ((cap >> 56n) & 1n) === 1n;
export const capPsi = (cap: bigint): boolean => ((cap >> 39n) & 1n) === 1n;
export const capMamv = (cap: bigint): number => Number((cap >> 48n) & 0x3fn);
export const capNfr = (cap: bigint): number => Number((cap >> 40n) & 0xffn) + 1;
export const capDwd = (cap: bigint): boolean => ((cap >> 54n) & 1n) === 1n;
export const capDrd = (cap: bigint): boolean => ((cap >> 55n) & 1n) === 1n;
export const capCachingMode = (cap: bigint): boolean => ((cap >> 7n) & 1n) === 1n;
export const ecapDt = (ecap: bigint): boolean => ((ecap >> 2n) & 1n) === 1n;
export const ecapPt = (ecap: bigint): boolean => ((ecap >> 6n) & 1n) === 1n;
export const ecapSc = (ecap: bigint): boolean => ((ecap >> 7n) & 1n) === 1n;
export const ecapNest = (ecap: bigint): boolean => ((ecap >> 26n) & 1n) === 1n;
export const ecapPrs = (ecap: bigint): boolean => ((ecap >> 29n) & 1n) === 1n;
export const ecapSrs = (ecap: bigint): boolean => ((ecap >> 31n) & 1n) === 1n;
export const ecapEafs = (ecap: bigint): boolean => ((ecap >> 34n) & 1n) === 1n;
export const ecapPss = (ecap: bigint): number => Number((ecap >> 35n) & 0x1fn);
export const ecapPasid = (ecap: bigint): boolean => ((ecap >> 40n) & 1n) === 1n;
export const ecapSmts = (ecap: bigint): boolean => ((ecap >> 43n) & 1n) === 1n;
export const ecapSsads = (ecap: bigint): boolean => ((ecap >> 45n) & 1n) === 1n;
export const ecapSsts = (ecap: bigint): boolean => ((ecap >> 46n) & 1n) === 1n;
export const ecapFsts = (ecap: bigint): boolean => ((ecap >> 47n) & 1n) === 1n;
export const ecapSmpwc = (ecap: bigint): boolean => ((ecap >> 48n) & 1n) === 1n;

/** Reads the VtdFeatures out of `host.addIommu({ ... })` options, defaulting the rest. */
export function featuresFrom(options: Readonly<Record<string, unknown>>): VtdFeatures {
  const pick = <K extends keyof VtdFeatures>(k: K): VtdFeatures[K] =>
    (options[k] as VtdFeatures[K] | undefined) ?? DEFAULT_FEATURES[k];
  const f: VtdFeatures = {
    ssads: pick('ssads'),
    nest: pick('nest'),
    fsts: pick('fsts'),
    prs: pick('prs'),
    dt: pick('dt'),
    pasidBits: pick('pasidBits'),
    sllps: pick('sllps'),
    fs1gp: pick('fs1gp'),
    nfr: pick('nfr'),
    mamv: pick('mamv'),
  };
  if (f.nfr < 1 || f.nfr > 256) throw new RangeError(`intel-vtd: nfr ${f.nfr} outside [1, 256]`);
  if (f.pasidBits < 0 || f.pasidBits > 20) throw new RangeError(`intel-vtd: pasidBits ${f.pasidBits}`);
  return f;
}
