/**
 * Event log entries (16 bytes, four u32 words) and PPR log entries (two u64), bit-exact with
 * amd_iommu_types.h: word0 DeviceID 15:0 and PASID 19:16; word1 DomainID or PASID 15:0,
 * flags 27:16, type 31:28; words 2-3 the address.
 */

export const EVENT_ILLEGAL_DEV_TABLE_ENTRY = 0x1;
export const EVENT_IO_PAGE_FAULT = 0x2;
export const EVENT_DEV_TAB_HW_ERROR = 0x3;
export const EVENT_PAGE_TAB_HW_ERROR = 0x4;
export const EVENT_ILLEGAL_COMMAND_ERROR = 0x5;
export const EVENT_COMMAND_HW_ERROR = 0x6;
export const EVENT_IOTLB_INV_TIMEOUT = 0x7;
export const EVENT_INVALID_DEVICE_REQUEST = 0x8;
export const EVENT_INVALID_PPR_REQUEST = 0x9;

export const EVENT_NAMES: Readonly<Record<number, string>> = {
  [EVENT_ILLEGAL_DEV_TABLE_ENTRY]: 'ILLEGAL_DEV_TABLE_ENTRY',
  [EVENT_IO_PAGE_FAULT]: 'IO_PAGE_FAULT',
  [EVENT_DEV_TAB_HW_ERROR]: 'DEV_TAB_HW_ERROR',
  [EVENT_PAGE_TAB_HW_ERROR]: 'PAGE_TAB_HW_ERROR',
  [EVENT_ILLEGAL_COMMAND_ERROR]: 'ILLEGAL_COMMAND_ERROR',
  [EVENT_COMMAND_HW_ERROR]: 'COMMAND_HW_ERROR',
  [EVENT_IOTLB_INV_TIMEOUT]: 'IOTLB_INV_TIMEOUT',
  [EVENT_INVALID_DEVICE_REQUEST]: 'INVALID_DEVICE_REQUEST',
  [EVENT_INVALID_PPR_REQUEST]: 'INVALID_PPR_REQUEST',
};

// Flags (word1 27:16) of IO_PAGE_FAULT and ILLEGAL_DEV_TABLE_ENTRY.
export const EVENT_FLAG_GN = 0x001;
export const EVENT_FLAG_NX = 0x002;
export const EVENT_FLAG_US = 0x004;
export const EVENT_FLAG_I = 0x008;
export const EVENT_FLAG_PR = 0x010;
export const EVENT_FLAG_RW = 0x020;
export const EVENT_FLAG_PE = 0x040;
export const EVENT_FLAG_RZ = 0x080;
export const EVENT_FLAG_TR = 0x100;

export const EVENT_SIZE = 16;

export interface AmdEvent {
  readonly type: number;
  readonly devid: number;
  /** DomainID (GN=0) or PASID (GN=1); PASID bits 19:16 go to word0. */
  readonly tag: number;
  readonly flags: number;
  readonly address: bigint;
}

export function encodeEvent(e: AmdEvent): [number, number, number, number] {
  const w0 = (e.devid & 0xffff) | (e.tag & 0xf0000);
  const w1 = (e.tag & 0xffff) | ((e.flags & 0xfff) << 16) | ((e.type & 0xf) << 28);
  return [w0 >>> 0, w1 >>> 0, Number(e.address & 0xffff_ffffn), Number((e.address >> 32n) & 0xffff_ffffn)];
}

/** As Linux's iommu_print_event reads it. */
export function decodeEvent(w: readonly [number, number, number, number]): AmdEvent & { name: string } {
  const type = (w[1] >>> 28) & 0xf;
  return {
    type,
    name: EVENT_NAMES[type] ?? `UNKNOWN(0x${type.toString(16)})`,
    devid: w[0] & 0xffff,
    tag: (w[0] & 0xf0000) | (w[1] & 0xffff),
    flags: (w[1] >>> 16) & 0xfff,
    address: (BigInt(w[3]) << 32n) | BigInt(w[2]),
  };
}

// PPR log (16 bytes: two u64).
export const PPR_REQ_FAULT = 0x1;
export const PPR_FLAG_EXEC = 0x002;
export const PPR_FLAG_READ = 0x004;
export const PPR_FLAG_WRITE = 0x008;
export const PPR_FLAG_US = 0x010;
export const PPR_FLAG_RVSD = 0x020;
export const PPR_FLAG_GN = 0x040;
export const PPR_SIZE = 16;

export interface PprEntry {
  readonly devid: number;
  readonly pasid: number;
  readonly tag: number;
  readonly flags: number;
  readonly type: number;
  readonly address: bigint;
}

export function encodePpr(p: PprEntry): [bigint, bigint] {
  const q0 =
    BigInt(p.devid & 0xffff) |
    (BigInt(p.pasid & 0xffff) << 16n) |
    (BigInt(p.tag & 0x3ff) << 32n) |
    (BigInt((p.pasid >> 16) & 0xf) << 42n) |
    (BigInt(p.flags & 0xfff) << 48n) |
    (BigInt(p.type & 0xf) << 60n);
  return [q0, p.address];
}

export function decodePpr(q0: bigint, q1: bigint): PprEntry {
  return {
    devid: Number(q0 & 0xffffn),
    pasid: Number((((q0 >> 42n) & 0xfn) << 16n) | ((q0 >> 16n) & 0xffffn)),
    tag: Number((q0 >> 32n) & 0x3ffn),
    flags: Number((q0 >> 48n) & 0xfffn),
    type: Number((q0 >> 60n) & 0xfn),
    address: q1,
  };
}
