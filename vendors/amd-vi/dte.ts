/**
 * The 256-bit Device Table Entry (four little-endian qwords, indexed by DeviceID), bit-exact with
 * amd_iommu_types.h. The GCR3 table root pointer is split over three fields.
 */

export const DTE_SIZE = 32;

// data[0]
export const DTE_V = 1n << 0n;
export const DTE_TV = 1n << 1n;
export const DTE_HAD_SHIFT = 7n;
/** Linux's DTE_FLAG_HAD: host access and dirty update. */
export const DTE_HAD = 3n << DTE_HAD_SHIFT;
export const DTE_MODE_SHIFT = 9n;
export const DTE_HOST_TRP = ((1n << 52n) - 1n) & ~0xfffn;
export const DTE_PPR = 1n << 52n;
export const DTE_GIOV = 1n << 54n;
export const DTE_GV = 1n << 55n;
export const DTE_GLX_SHIFT = 56n;
export const DTE_GCR3_14_12_SHIFT = 58n;
export const DTE_IR = 1n << 61n;
export const DTE_IW = 1n << 62n;
// data[1]
export const DTE_DOMID_MASK = 0xffffn;
export const DTE_GCR3_30_15_SHIFT = 16n;
export const DTE_I = 1n << 32n;
export const DTE_GCR3_51_31_SHIFT = 43n;
// data[2]
export const DTE_GPT_LEVEL_SHIFT = 54n;

/** Reserved bits per qword (QEMU's AMDVI_DTE_QUADn_RESERVED): non-zero → ILLEGAL_DEV_TABLE_ENTRY. */
export const DTE_RESERVED: readonly [bigint, bigint, bigint, bigint] = [
  (0x1fn << 2n) | (1n << 63n),
  0n,
  3n << 52n,
  0x7fffn | (0x3fn << 48n),
];

export interface Dte {
  readonly v: boolean;
  readonly tv: boolean;
  /** Host Access/Dirty update: 0 off, 1 access only, 3 access and dirty. */
  readonly had: number;
  /** Host (v1) table levels; 0 = no translation (IR/IW decide), 7 reserved. */
  readonly mode: number;
  readonly hostRoot: bigint;
  readonly ppr: boolean;
  readonly giov: boolean;
  readonly gv: boolean;
  /** GCR3 table levels - 1. */
  readonly glx: number;
  readonly gcr3Root: bigint;
  readonly ir: boolean;
  readonly iw: boolean;
  readonly domainId: number;
  /** I: the device's IOTLB (ATS) is enabled. */
  readonly ats: boolean;
  /** GuestPagingMode: 0 = 4-level, 1 = 5-level. */
  readonly guestPagingMode: number;
}

export const CLEAR_DTE: Dte = {
  v: true,
  tv: true,
  had: 0,
  mode: 0,
  hostRoot: 0n,
  ppr: false,
  giov: false,
  gv: false,
  glx: 0,
  gcr3Root: 0n,
  ir: false,
  iw: false,
  domainId: 0,
  ats: false,
  guestPagingMode: 0,
};

const b = (on: boolean, bit: bigint) => (on ? bit : 0n);

export function encodeDte(d: Dte): [bigint, bigint, bigint, bigint] {
  const g = d.gcr3Root;
  const q0 =
    b(d.v, DTE_V) |
    b(d.tv, DTE_TV) |
    (BigInt(d.had & 3) << DTE_HAD_SHIFT) |
    (BigInt(d.mode & 7) << DTE_MODE_SHIFT) |
    (d.hostRoot & DTE_HOST_TRP) |
    b(d.ppr, DTE_PPR) |
    b(d.giov, DTE_GIOV) |
    b(d.gv, DTE_GV) |
    (BigInt(d.glx & 3) << DTE_GLX_SHIFT) |
    (((g >> 12n) & 7n) << DTE_GCR3_14_12_SHIFT) |
    b(d.ir, DTE_IR) |
    b(d.iw, DTE_IW);
  const q1 =
    BigInt(d.domainId & 0xffff) |
    (((g >> 15n) & 0xffffn) << DTE_GCR3_30_15_SHIFT) |
    b(d.ats, DTE_I) |
    (((g >> 31n) & 0x1fffffn) << DTE_GCR3_51_31_SHIFT);
  const q2 = BigInt(d.guestPagingMode & 3) << DTE_GPT_LEVEL_SHIFT;
  return [q0, q1, q2, 0n];
}

export function decodeDte(q: readonly [bigint, bigint, bigint, bigint]): Dte {
  const [q0, q1, q2] = q;
  const gcr3Root =
    (((q0 >> DTE_GCR3_14_12_SHIFT) & 7n) << 12n) |
    (((q1 >> DTE_GCR3_30_15_SHIFT) & 0xffffn) << 15n) |
    (((q1 >> DTE_GCR3_51_31_SHIFT) & 0x1fffffn) << 31n);
  return {
    v: (q0 & DTE_V) !== 0n,
    tv: (q0 & DTE_TV) !== 0n,
    had: Number((q0 >> DTE_HAD_SHIFT) & 3n),
    mode: Number((q0 >> DTE_MODE_SHIFT) & 7n),
    hostRoot: q0 & DTE_HOST_TRP,
    ppr: (q0 & DTE_PPR) !== 0n,
    giov: (q0 & DTE_GIOV) !== 0n,
    gv: (q0 & DTE_GV) !== 0n,
    glx: Number((q0 >> DTE_GLX_SHIFT) & 3n),
    gcr3Root,
    ir: (q0 & DTE_IR) !== 0n,
    iw: (q0 & DTE_IW) !== 0n,
    domainId: Number(q1 & DTE_DOMID_MASK),
    ats: (q1 & DTE_I) !== 0n,
    guestPagingMode: Number((q2 >> DTE_GPT_LEVEL_SHIFT) & 3n),
  };
}

/** The first reserved-bit violation, as the qword index, or -1. */
export function dteReservedViolation(q: readonly [bigint, bigint, bigint, bigint]): number {
  for (let i = 0; i < 4; i++) if (q[i]! & DTE_RESERVED[i]!) return i;
  return -1;
}
