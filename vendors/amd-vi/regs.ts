/**
 * AMD-Vi MMIO register map, control/status bits and feature registers (amd_iommu_types.h and
 * the AMD IOMMU spec 48882). Offsets are byte offsets into the IOMMU's MMIO page.
 */

export const MMIO_DEV_TABLE = 0x0000;
export const MMIO_CMD_BUF = 0x0008;
export const MMIO_EVT_BUF = 0x0010;
export const MMIO_CONTROL = 0x0018;
export const MMIO_EXT_FEATURES = 0x0030;
export const MMIO_PPR_LOG = 0x0038;
export const MMIO_EXT_FEATURES2 = 0x01a0;
export const MMIO_CMD_HEAD = 0x2000;
export const MMIO_CMD_TAIL = 0x2008;
export const MMIO_EVT_HEAD = 0x2010;
export const MMIO_EVT_TAIL = 0x2018;
export const MMIO_STATUS = 0x2020;
export const MMIO_PPR_HEAD = 0x2030;
export const MMIO_PPR_TAIL = 0x2038;

// Control register (0x0018) bits.
export const CONTROL_IOMMU_EN = 1n << 0n;
export const CONTROL_EVT_LOG_EN = 1n << 2n;
export const CONTROL_EVT_INT_EN = 1n << 3n;
export const CONTROL_COMWAIT_EN = 1n << 4n;
export const CONTROL_INV_TIMEOUT_SHIFT = 5n;
export const CONTROL_INV_TIMEOUT_MASK = 7n << CONTROL_INV_TIMEOUT_SHIFT;
export const CONTROL_COHERENT_EN = 1n << 10n;
export const CONTROL_CMDBUF_EN = 1n << 12n;
export const CONTROL_PPRLOG_EN = 1n << 13n;
export const CONTROL_PPRINT_EN = 1n << 14n;
export const CONTROL_PPR_EN = 1n << 15n;
export const CONTROL_GT_EN = 1n << 16n;
export const CONTROL_GCR3TRPMODE = 1n << 58n;

/** CONTROL.InvTimeOut codes → nanoseconds (0: the IOMMU waits forever). */
export const INV_TIMEOUT_NS: readonly number[] = [0, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e11];
export const CTRL_INV_TO_1S = 4n;

// Status register (0x2020) bits; write 1 to clear the sticky ones.
export const STATUS_EVT_OVERFLOW = 1n << 0n;
export const STATUS_EVT_INT = 1n << 1n;
export const STATUS_COM_WAIT_INT = 1n << 2n;
export const STATUS_EVT_RUN = 1n << 3n;
export const STATUS_CMDBUF_RUN = 1n << 4n;
export const STATUS_PPR_OVERFLOW = 1n << 5n;
export const STATUS_PPR_INT = 1n << 6n;
export const STATUS_PPR_RUN = 1n << 7n;
/** Bits software clears by writing 1. */
export const STATUS_W1C =
  STATUS_EVT_OVERFLOW | STATUS_EVT_INT | STATUS_COM_WAIT_INT | STATUS_PPR_OVERFLOW | STATUS_PPR_INT;

/** Ring base registers: base 51:12, length code 59:56 (log2 of the entry count). */
export const RING_BASE_MASK = ((1n << 52n) - 1n) & ~0xfffn;
export const RING_LEN_SHIFT = 56n;
/** Linux's CMD_BUFFER_SIZE / EVT_BUFFER_SIZE / PPR_LOG_SIZE: 512 entries of 16 bytes. */
export const RING_LEN_512 = 9;
/** Lengths 0-7 are reserved: a ring has 256 entries at least. */
export const RING_LEN_MIN = 8;
export const RING_LEN_MAX = 15;
/** Linux keeps this many bytes free in the command buffer. */
export const CMD_BUF_SLACK = 0x20;

// Extended Feature Register (0x0030).
export const FEATURE_PREFETCH = 1n << 0n;
export const FEATURE_PPR = 1n << 1n;
export const FEATURE_NX = 1n << 3n;
export const FEATURE_GT = 1n << 4n;
export const FEATURE_IA = 1n << 6n;
export const FEATURE_GA = 1n << 7n;
export const FEATURE_HE = 1n << 8n;
export const FEATURE_PC = 1n << 9n;
export const FEATURE_HATS_SHIFT = 10n;
export const FEATURE_GATS_SHIFT = 12n;
export const FEATURE_GLX_SHIFT = 14n;
export const FEATURE_PASMAX_SHIFT = 32n;
export const FEATURE_GIOSUP = 1n << 48n;
export const FEATURE_HASUP = 1n << 49n;
export const FEATURE_EPHSUP = 1n << 50n;
export const FEATURE_HDSUP = 1n << 52n;

// Extended Feature Register 2 (0x01a0).
export const FEATURE2_GCR3TRPMODE = 1n << 3n;
export const FEATURE2_HT_RANGE_IGNORE = 1n << 11n;

export function field(value: bigint, shift: bigint, bits: bigint): number {
  return Number((value >> shift) & ((1n << bits) - 1n));
}

/** EFR.HATS: 0 = 4 levels, 1 = 5, 2 = 6 host (v1) levels. */
export function hostLevels(efr: bigint): number {
  return 4 + Math.min(field(efr, FEATURE_HATS_SHIFT, 2n), 2);
}

/** EFR.GATS: 0 = 4-level, 1 = 5-level guest (v2) tables. */
export function guestLevels(efr: bigint): number {
  return field(efr, FEATURE_GATS_SHIFT, 2n) === 1 ? 5 : 4;
}

/** Bits of PASID the IOMMU tags (EFR.PASmax + 1). */
export function pasidBits(efr: bigint): number {
  return field(efr, FEATURE_PASMAX_SHIFT, 5n) + 1;
}
