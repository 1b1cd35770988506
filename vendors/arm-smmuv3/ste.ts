import { type Field, fieldMask, getField, prepField } from './bits.ts';

/** Stream Table Entry: 8 dwords (64 bytes), fields as in arm-smmu-v3.h (STRTAB_STE_*). */
export const STRTAB_STE_DWORDS = 8;
export const STE_BYTES = 64;

export const STRTAB_STE_0_V: Field = [0, 0];
export const STRTAB_STE_0_CFG: Field = [3, 1];
export const STRTAB_STE_0_S1FMT: Field = [5, 4];
export const STRTAB_STE_0_S1CTXPTR: Field = [51, 6];
export const STRTAB_STE_0_S1CDMAX: Field = [63, 59];

export const STRTAB_STE_0_CFG_ABORT = 0;
export const STRTAB_STE_0_CFG_BYPASS = 4;
export const STRTAB_STE_0_CFG_S1_TRANS = 5;
export const STRTAB_STE_0_CFG_S2_TRANS = 6;
export const STRTAB_STE_0_CFG_NESTED = 7;
export const STRTAB_STE_0_S1FMT_LINEAR = 0;
export const STRTAB_STE_0_S1FMT_4K_L2 = 1;
export const STRTAB_STE_0_S1FMT_64K_L2 = 2;

export const STRTAB_STE_1_S1DSS: Field = [1, 0];
export const STRTAB_STE_1_S1CIR: Field = [3, 2];
export const STRTAB_STE_1_S1COR: Field = [5, 4];
export const STRTAB_STE_1_S1CSH: Field = [7, 6];
export const STRTAB_STE_1_MEV: Field = [19, 19];
export const STRTAB_STE_1_S1STALLD: Field = [27, 27];
export const STRTAB_STE_1_EATS: Field = [29, 28];
export const STRTAB_STE_1_STRW: Field = [31, 30];
export const STRTAB_STE_1_SHCFG: Field = [45, 44];

export const STRTAB_STE_1_S1DSS_TERMINATE = 0;
export const STRTAB_STE_1_S1DSS_BYPASS = 1;
export const STRTAB_STE_1_S1DSS_SSID0 = 2;
export const STRTAB_STE_1_S1C_CACHE_WBRA = 1;
export const STRTAB_STE_1_EATS_ABT = 0;
export const STRTAB_STE_1_EATS_TRANS = 1;
export const STRTAB_STE_1_EATS_S1CHK = 2;
export const STRTAB_STE_1_STRW_NSEL1 = 0;
export const STRTAB_STE_1_STRW_EL2 = 2;
export const STRTAB_STE_1_SHCFG_INCOMING = 1;
export const ARM_SMMU_SH_ISH = 3;

export const STRTAB_STE_2_S2VMID: Field = [15, 0];
export const STRTAB_STE_2_VTCR: Field = [50, 32];
export const STRTAB_STE_2_S2AA64: Field = [51, 51];
export const STRTAB_STE_2_S2ENDI: Field = [52, 52];
export const STRTAB_STE_2_S2PTW: Field = [54, 54];
export const STRTAB_STE_2_S2S: Field = [57, 57];
export const STRTAB_STE_2_S2R: Field = [58, 58];

/** VTCR sub-fields, relative to STRTAB_STE_2_VTCR. */
export const VTCR_S2T0SZ: Field = [5, 0];
export const VTCR_S2SL0: Field = [7, 6];
export const VTCR_S2IR0: Field = [9, 8];
export const VTCR_S2OR0: Field = [11, 10];
export const VTCR_S2SH0: Field = [13, 12];
export const VTCR_S2TG: Field = [15, 14];
export const VTCR_S2PS: Field = [18, 16];

export const STRTAB_STE_3_S2TTB: Field = [51, 4];

/** Level-1 stream table descriptor (2-level tables). */
export const STRTAB_L1_DESC_SPAN: Field = [4, 0];
export const STRTAB_L1_DESC_L2PTR: Field = [51, 6];
export const STRTAB_SPLIT = 8;

export interface Vtcr {
  readonly t0sz: number;
  readonly sl0: number;
  readonly ir0: number;
  readonly or0: number;
  readonly sh0: number;
  readonly tg: number;
  readonly ps: number;
}

/** The STE fields the hardware acts on; anything else in the words is ignored. */
export interface Ste {
  readonly v: boolean;
  readonly config: number;
  readonly s1fmt: number;
  /** S1ContextPtr as an address (bits 51:6 in place). */
  readonly s1ctxptr: bigint;
  readonly s1cdmax: number;
  readonly s1dss: number;
  readonly s1cir: number;
  readonly s1cor: number;
  readonly s1csh: number;
  readonly mev: boolean;
  readonly s1stalld: boolean;
  readonly eats: number;
  readonly strw: number;
  readonly shcfg: number;
  readonly s2vmid: number;
  readonly vtcr: Vtcr;
  readonly s2aa64: boolean;
  readonly s2endi: boolean;
  readonly s2ptw: boolean;
  readonly s2s: boolean;
  readonly s2r: boolean;
  /** S2TTB as an address (bits 51:4 in place). */
  readonly s2ttb: bigint;
}

const ZERO_VTCR: Vtcr = { t0sz: 0, sl0: 0, ir0: 0, or0: 0, sh0: 0, tg: 0, ps: 0 };

export const EMPTY_STE: Ste = {
  v: false,
  config: 0,
  s1fmt: 0,
  s1ctxptr: 0n,
  s1cdmax: 0,
  s1dss: 0,
  s1cir: 0,
  s1cor: 0,
  s1csh: 0,
  mev: false,
  s1stalld: false,
  eats: 0,
  strw: 0,
  shcfg: 0,
  s2vmid: 0,
  vtcr: ZERO_VTCR,
  s2aa64: false,
  s2endi: false,
  s2ptw: false,
  s2s: false,
  s2r: false,
  s2ttb: 0n,
};

const b = (on: boolean) => (on ? 1 : 0);

export function encodeVtcr(v: Vtcr): number {
  return Number(
    prepField(VTCR_S2T0SZ, v.t0sz) |
      prepField(VTCR_S2SL0, v.sl0) |
      prepField(VTCR_S2IR0, v.ir0) |
      prepField(VTCR_S2OR0, v.or0) |
      prepField(VTCR_S2SH0, v.sh0) |
      prepField(VTCR_S2TG, v.tg) |
      prepField(VTCR_S2PS, v.ps),
  );
}

export function decodeVtcr(raw: number): Vtcr {
  const w = BigInt(raw);
  return {
    t0sz: getField(w, VTCR_S2T0SZ),
    sl0: getField(w, VTCR_S2SL0),
    ir0: getField(w, VTCR_S2IR0),
    or0: getField(w, VTCR_S2OR0),
    sh0: getField(w, VTCR_S2SH0),
    tg: getField(w, VTCR_S2TG),
    ps: getField(w, VTCR_S2PS),
  };
}

export function encodeSte(s: Partial<Ste>): bigint[] {
  const f: Ste = { ...EMPTY_STE, ...s };
  const w = new Array<bigint>(STRTAB_STE_DWORDS).fill(0n);
  w[0] =
    prepField(STRTAB_STE_0_V, b(f.v)) |
    prepField(STRTAB_STE_0_CFG, f.config) |
    prepField(STRTAB_STE_0_S1FMT, f.s1fmt) |
    (f.s1ctxptr & fieldMask(STRTAB_STE_0_S1CTXPTR)) |
    prepField(STRTAB_STE_0_S1CDMAX, f.s1cdmax);
  w[1] =
    prepField(STRTAB_STE_1_S1DSS, f.s1dss) |
    prepField(STRTAB_STE_1_S1CIR, f.s1cir) |
    prepField(STRTAB_STE_1_S1COR, f.s1cor) |
    prepField(STRTAB_STE_1_S1CSH, f.s1csh) |
    prepField(STRTAB_STE_1_MEV, b(f.mev)) |
    prepField(STRTAB_STE_1_S1STALLD, b(f.s1stalld)) |
    prepField(STRTAB_STE_1_EATS, f.eats) |
    prepField(STRTAB_STE_1_STRW, f.strw) |
    prepField(STRTAB_STE_1_SHCFG, f.shcfg);
  w[2] =
    prepField(STRTAB_STE_2_S2VMID, f.s2vmid) |
    prepField(STRTAB_STE_2_VTCR, encodeVtcr(f.vtcr)) |
    prepField(STRTAB_STE_2_S2AA64, b(f.s2aa64)) |
    prepField(STRTAB_STE_2_S2ENDI, b(f.s2endi)) |
    prepField(STRTAB_STE_2_S2PTW, b(f.s2ptw)) |
    prepField(STRTAB_STE_2_S2S, b(f.s2s)) |
    prepField(STRTAB_STE_2_S2R, b(f.s2r));
  w[3] = f.s2ttb & fieldMask(STRTAB_STE_3_S2TTB);
  return w;
}

export function decodeSte(w: readonly bigint[]): Ste {
  const w0 = w[0] ?? 0n;
  const w1 = w[1] ?? 0n;
  const w2 = w[2] ?? 0n;
  return {
    v: getField(w0, STRTAB_STE_0_V) === 1,
    config: getField(w0, STRTAB_STE_0_CFG),
    s1fmt: getField(w0, STRTAB_STE_0_S1FMT),
    s1ctxptr: w0 & fieldMask(STRTAB_STE_0_S1CTXPTR),
    s1cdmax: getField(w0, STRTAB_STE_0_S1CDMAX),
    s1dss: getField(w1, STRTAB_STE_1_S1DSS),
    s1cir: getField(w1, STRTAB_STE_1_S1CIR),
    s1cor: getField(w1, STRTAB_STE_1_S1COR),
    s1csh: getField(w1, STRTAB_STE_1_S1CSH),
    mev: getField(w1, STRTAB_STE_1_MEV) === 1,
    s1stalld: getField(w1, STRTAB_STE_1_S1STALLD) === 1,
    eats: getField(w1, STRTAB_STE_1_EATS),
    strw: getField(w1, STRTAB_STE_1_STRW),
    shcfg: getField(w1, STRTAB_STE_1_SHCFG),
    s2vmid: getField(w2, STRTAB_STE_2_S2VMID),
    vtcr: decodeVtcr(getField(w2, STRTAB_STE_2_VTCR)),
    s2aa64: getField(w2, STRTAB_STE_2_S2AA64) === 1,
    s2endi: getField(w2, STRTAB_STE_2_S2ENDI) === 1,
    s2ptw: getField(w2, STRTAB_STE_2_S2PTW) === 1,
    s2s: getField(w2, STRTAB_STE_2_S2S) === 1,
    s2r: getField(w2, STRTAB_STE_2_S2R) === 1,
    s2ttb: (w[3] ?? 0n) & fieldMask(STRTAB_STE_3_S2TTB),
  };
}

/**
 * `arm_smmu_get_ste_used`: the bits the hardware reads for this STE's configuration. The
 * hitless update writes unused bits first, so a half-written STE is never misread.
 */
export function steUsedBits(w: readonly bigint[]): bigint[] {
  const used = new Array<bigint>(STRTAB_STE_DWORDS).fill(0n);
  const w0 = w[0] ?? 0n;
  used[0] = fieldMask(STRTAB_STE_0_V);
  if (getField(w0, STRTAB_STE_0_V) === 0) return used;
  used[0] |= fieldMask(STRTAB_STE_0_CFG);
  const cfg = getField(w0, STRTAB_STE_0_CFG);
  if (cfg & 1) {
    used[0] |=
      fieldMask(STRTAB_STE_0_S1FMT) | fieldMask(STRTAB_STE_0_S1CTXPTR) | fieldMask(STRTAB_STE_0_S1CDMAX);
    used[1]! |=
      fieldMask(STRTAB_STE_1_S1DSS) |
      fieldMask(STRTAB_STE_1_S1CIR) |
      fieldMask(STRTAB_STE_1_S1COR) |
      fieldMask(STRTAB_STE_1_S1CSH) |
      fieldMask(STRTAB_STE_1_S1STALLD) |
      fieldMask(STRTAB_STE_1_STRW) |
      fieldMask(STRTAB_STE_1_EATS);
    used[2]! |= fieldMask(STRTAB_STE_2_S2VMID);
    if (getField(w[1] ?? 0n, STRTAB_STE_1_S1DSS) === STRTAB_STE_1_S1DSS_BYPASS)
      used[1]! |= fieldMask(STRTAB_STE_1_SHCFG);
  }
  if (cfg & 2) {
    used[1]! |= fieldMask(STRTAB_STE_1_EATS) | fieldMask(STRTAB_STE_1_SHCFG) | fieldMask(STRTAB_STE_1_MEV);
    used[2]! |=
      fieldMask(STRTAB_STE_2_S2VMID) |
      fieldMask(STRTAB_STE_2_VTCR) |
      fieldMask(STRTAB_STE_2_S2AA64) |
      fieldMask(STRTAB_STE_2_S2ENDI) |
      fieldMask(STRTAB_STE_2_S2PTW) |
      fieldMask(STRTAB_STE_2_S2S) |
      fieldMask(STRTAB_STE_2_S2R);
    used[3]! |= fieldMask(STRTAB_STE_3_S2TTB);
  }
  if (cfg === STRTAB_STE_0_CFG_BYPASS) used[1]! |= fieldMask(STRTAB_STE_1_SHCFG);
  return used;
}
