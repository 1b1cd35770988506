import { type Field, fieldMask, getField, prepField } from './bits.ts';

/** Context Descriptor: 8 dwords (64 bytes), fields as in arm-smmu-v3.h (CTXDESC_CD_*). */
export const CTXDESC_CD_DWORDS = 8;
export const CD_BYTES = 64;

export const CTXDESC_CD_0_TCR_T0SZ: Field = [5, 0];
export const CTXDESC_CD_0_TCR_TG0: Field = [7, 6];
export const CTXDESC_CD_0_TCR_IRGN0: Field = [9, 8];
export const CTXDESC_CD_0_TCR_ORGN0: Field = [11, 10];
export const CTXDESC_CD_0_TCR_SH0: Field = [13, 12];
export const CTXDESC_CD_0_TCR_EPD0: Field = [14, 14];
export const CTXDESC_CD_0_ENDI: Field = [15, 15];
export const CTXDESC_CD_0_TCR_T1SZ: Field = [21, 16];
export const CTXDESC_CD_0_TCR_TG1: Field = [23, 22];
export const CTXDESC_CD_0_TCR_EPD1: Field = [30, 30];
export const CTXDESC_CD_0_V: Field = [31, 31];
export const CTXDESC_CD_0_TCR_IPS: Field = [34, 32];
export const CTXDESC_CD_0_TCR_TBI0: Field = [38, 38];
export const CTXDESC_CD_0_AA64: Field = [41, 41];
export const CTXDESC_CD_0_TCR_HD: Field = [42, 42];
export const CTXDESC_CD_0_TCR_HA: Field = [43, 43];
export const CTXDESC_CD_0_S: Field = [44, 44];
export const CTXDESC_CD_0_R: Field = [45, 45];
export const CTXDESC_CD_0_A: Field = [46, 46];
export const CTXDESC_CD_0_ASET: Field = [47, 47];
export const CTXDESC_CD_0_ASID: Field = [63, 48];
export const CTXDESC_CD_1_TTB0: Field = [51, 4];
export const CTXDESC_CD_2_TTB1: Field = [51, 4];
export const CTXDESC_CD_3_MAIR: Field = [63, 0];

/** ARM_LPAE_TCR_TG0_*: the CD's TG0 encoding. */
export const TG0_4K = 0;
export const TG0_64K = 1;
export const TG0_16K = 2;
/** TCR_{IRGN,ORGN} write-back write-allocate, SH inner shareable. */
export const TCR_RGN_WBWA = 1;
export const TCR_SH_IS = 3;

/** Level-1 CD table descriptor and the L2 leaf size Linux uses (S1FMT = 64K_L2). */
export const CTXDESC_L1_DESC_V: Field = [0, 0];
export const CTXDESC_L1_DESC_L2PTR: Field = [51, 12];
export const CTXDESC_L2_ENTRIES = 1024;

export interface Cd {
  readonly v: boolean;
  readonly t0sz: number;
  readonly tg0: number;
  readonly irgn0: number;
  readonly orgn0: number;
  readonly sh0: number;
  readonly epd0: boolean;
  readonly endi: boolean;
  readonly t1sz: number;
  readonly tg1: number;
  readonly epd1: boolean;
  readonly ips: number;
  readonly tbi0: boolean;
  readonly aa64: boolean;
  readonly hd: boolean;
  readonly ha: boolean;
  readonly s: boolean;
  readonly r: boolean;
  readonly a: boolean;
  readonly aset: boolean;
  readonly asid: number;
  readonly ttb0: bigint;
  readonly ttb1: bigint;
  readonly mair: bigint;
}

export const EMPTY_CD: Cd = {
  v: false,
  t0sz: 0,
  tg0: 0,
  irgn0: 0,
  orgn0: 0,
  sh0: 0,
  epd0: false,
  endi: false,
  t1sz: 0,
  tg1: 0,
  epd1: false,
  ips: 0,
  tbi0: false,
  aa64: false,
  hd: false,
  ha: false,
  s: false,
  r: false,
  a: false,
  aset: false,
  asid: 0,
  ttb0: 0n,
  ttb1: 0n,
  mair: 0n,
};

const b = (on: boolean) => (on ? 1 : 0);

export function encodeCd(c: Partial<Cd>): bigint[] {
  const f: Cd = { ...EMPTY_CD, ...c };
  const w = new Array<bigint>(CTXDESC_CD_DWORDS).fill(0n);
  w[0] =
    prepField(CTXDESC_CD_0_TCR_T0SZ, f.t0sz) |
    prepField(CTXDESC_CD_0_TCR_TG0, f.tg0) |
    prepField(CTXDESC_CD_0_TCR_IRGN0, f.irgn0) |
    prepField(CTXDESC_CD_0_TCR_ORGN0, f.orgn0) |
    prepField(CTXDESC_CD_0_TCR_SH0, f.sh0) |
    prepField(CTXDESC_CD_0_TCR_EPD0, b(f.epd0)) |
    prepField(CTXDESC_CD_0_ENDI, b(f.endi)) |
    prepField(CTXDESC_CD_0_TCR_T1SZ, f.t1sz) |
    prepField(CTXDESC_CD_0_TCR_TG1, f.tg1) |
    prepField(CTXDESC_CD_0_TCR_EPD1, b(f.epd1)) |
    prepField(CTXDESC_CD_0_V, b(f.v)) |
    prepField(CTXDESC_CD_0_TCR_IPS, f.ips) |
    prepField(CTXDESC_CD_0_TCR_TBI0, b(f.tbi0)) |
    prepField(CTXDESC_CD_0_AA64, b(f.aa64)) |
    prepField(CTXDESC_CD_0_TCR_HD, b(f.hd)) |
    prepField(CTXDESC_CD_0_TCR_HA, b(f.ha)) |
    prepField(CTXDESC_CD_0_S, b(f.s)) |
    prepField(CTXDESC_CD_0_R, b(f.r)) |
    prepField(CTXDESC_CD_0_A, b(f.a)) |
    prepField(CTXDESC_CD_0_ASET, b(f.aset)) |
    prepField(CTXDESC_CD_0_ASID, f.asid);
  w[1] = f.ttb0 & fieldMask(CTXDESC_CD_1_TTB0);
  w[2] = f.ttb1 & fieldMask(CTXDESC_CD_2_TTB1);
  w[3] = f.mair & fieldMask(CTXDESC_CD_3_MAIR);
  return w;
}

export function decodeCd(w: readonly bigint[]): Cd {
  const w0 = w[0] ?? 0n;
  const one = (f: Field) => getField(w0, f) === 1;
  return {
    v: one(CTXDESC_CD_0_V),
    t0sz: getField(w0, CTXDESC_CD_0_TCR_T0SZ),
    tg0: getField(w0, CTXDESC_CD_0_TCR_TG0),
    irgn0: getField(w0, CTXDESC_CD_0_TCR_IRGN0),
    orgn0: getField(w0, CTXDESC_CD_0_TCR_ORGN0),
    sh0: getField(w0, CTXDESC_CD_0_TCR_SH0),
    epd0: one(CTXDESC_CD_0_TCR_EPD0),
    endi: one(CTXDESC_CD_0_ENDI),
    t1sz: getField(w0, CTXDESC_CD_0_TCR_T1SZ),
    tg1: getField(w0, CTXDESC_CD_0_TCR_TG1),
    epd1: one(CTXDESC_CD_0_TCR_EPD1),
    ips: getField(w0, CTXDESC_CD_0_TCR_IPS),
    tbi0: one(CTXDESC_CD_0_TCR_TBI0),
    aa64: one(CTXDESC_CD_0_AA64),
    hd: one(CTXDESC_CD_0_TCR_HD),
    ha: one(CTXDESC_CD_0_TCR_HA),
    s: one(CTXDESC_CD_0_S),
    r: one(CTXDESC_CD_0_R),
    a: one(CTXDESC_CD_0_A),
    aset: one(CTXDESC_CD_0_ASET),
    asid: getField(w0, CTXDESC_CD_0_ASID),
    ttb0: (w[1] ?? 0n) & fieldMask(CTXDESC_CD_1_TTB0),
    ttb1: (w[2] ?? 0n) & fieldMask(CTXDESC_CD_2_TTB1),
    mair: (w[3] ?? 0n) & fieldMask(CTXDESC_CD_3_MAIR),
  };
}

const ALL = (1n << 64n) - 1n;

/** `arm_smmu_get_cd_used`: a valid CD uses every bit, except the TTB0 walk fields under EPD0. */
export function cdUsedBits(w: readonly bigint[]): bigint[] {
  const used = new Array<bigint>(CTXDESC_CD_DWORDS).fill(0n);
  used[0] = fieldMask(CTXDESC_CD_0_V);
  if (getField(w[0] ?? 0n, CTXDESC_CD_0_V) === 0) return used;
  used.fill(ALL);
  if (getField(w[0] ?? 0n, CTXDESC_CD_0_TCR_EPD0) === 1) {
    used[0] =
      used[0]! &
      ~(
        fieldMask(CTXDESC_CD_0_TCR_T0SZ) |
        fieldMask(CTXDESC_CD_0_TCR_TG0) |
        fieldMask(CTXDESC_CD_0_TCR_IRGN0) |
        fieldMask(CTXDESC_CD_0_TCR_ORGN0) |
        fieldMask(CTXDESC_CD_0_TCR_SH0)
      );
    used[1] = used[1]! & ~fieldMask(CTXDESC_CD_1_TTB0);
  }
  return used;
}
