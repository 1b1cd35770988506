/**
 * Command-buffer entries: 16 bytes as four little-endian u32 words (Linux `struct iommu_cmd`),
 * opcode in word 1 bits 31:28. The builders produce what amd_iommu's build_* functions write.
 */

export type CmdWords = readonly [number, number, number, number];

export const CMD_SIZE = 16;
export const CMD_COMPL_WAIT = 0x01;
export const CMD_INV_DEV_ENTRY = 0x02;
export const CMD_INV_IOMMU_PAGES = 0x03;
export const CMD_INV_IOTLB_PAGES = 0x04;
export const CMD_INV_IRT = 0x05;
export const CMD_PREFETCH_PAGES = 0x06;
export const CMD_COMPLETE_PPR = 0x07;
export const CMD_INV_ALL = 0x08;

export const CMD_NAMES: Readonly<Record<number, string>> = {
  [CMD_COMPL_WAIT]: 'COMPLETION_WAIT',
  [CMD_INV_DEV_ENTRY]: 'INVALIDATE_DEVTAB_ENTRY',
  [CMD_INV_IOMMU_PAGES]: 'INVALIDATE_IOMMU_PAGES',
  [CMD_INV_IOTLB_PAGES]: 'INVALIDATE_IOTLB_PAGES',
  [CMD_INV_IRT]: 'INVALIDATE_INTERRUPT_TABLE',
  [CMD_PREFETCH_PAGES]: 'PREFETCH_IOMMU_PAGES',
  [CMD_COMPLETE_PPR]: 'COMPLETE_PPR_REQUEST',
  [CMD_INV_ALL]: 'INVALIDATE_IOMMU_ALL',
};

export const CMD_COMPL_WAIT_STORE = 0x01;
export const CMD_COMPL_WAIT_INT = 0x02;
export const CMD_INV_PAGES_SIZE = 0x01;
export const CMD_INV_PAGES_PDE = 0x02;
export const CMD_INV_PAGES_GN = 0x04;
/** CMD_INV_IOMMU_ALL_PAGES_ADDRESS: with S=1, every page. */
export const INV_ALL_PAGES_ADDRESS = 0x7fff_ffff_ffff_ffffn;
export const PPR_STATUS_SUCCESS = 0x0;
export const PPR_STATUS_INVALID = 0x1;
export const PPR_STATUS_FAILURE = 0xf;

const PAGE_MASK = ~0xfffn;
const TYPE_SHIFT = 28;

export function opcodeOf(w: CmdWords): number {
  return w[1] >>> TYPE_SHIFT;
}

function cmd(type: number, w0: number, w1: number, w2: number, w3: number): CmdWords {
  return [w0 >>> 0, (w1 | (type << TYPE_SHIFT)) >>> 0, w2 >>> 0, w3 >>> 0];
}

const lo = (v: bigint) => Number(v & 0xffff_ffffn);
const hi = (v: bigint) => Number((v >> 32n) & 0xffff_ffffn);

/** `build_inv_address`: one page, or the smallest naturally aligned power of two covering the range (S=1). */
export function buildInvAddress(address: bigint, size: bigint): bigint {
  const first = address & PAGE_MASK;
  const last = (address + size - 1n) & PAGE_MASK;
  if (first === last) return first;
  const end = address + size - 1n;
  const msbDiff = (end ^ address).toString(2).length - 1;
  const addr = msbDiff > 51 ? INV_ALL_PAGES_ADDRESS : address | ((1n << BigInt(msbDiff)) - 1n);
  return (addr & PAGE_MASK) | BigInt(CMD_INV_PAGES_SIZE);
}

/** The byte range an invalidation address names (S=1: the first zero bit from 12 up sets the size). */
export function decodeInvRange(addr: bigint): { start: bigint; size: bigint } {
  const page = addr & PAGE_MASK & ((1n << 64n) - 1n);
  if (!(addr & BigInt(CMD_INV_PAGES_SIZE))) return { start: page, size: 4096n };
  let bit = 12n;
  while (bit < 63n && (page >> bit) & 1n) bit++;
  const size = 1n << (bit + 1n);
  return { start: page & ~(size - 1n) & ((1n << 64n) - 1n), size };
}

export function buildCompletionWait(
  storePa: bigint,
  data: bigint,
  opts: { store?: boolean; irq?: boolean } = {},
) {
  const flags = ((opts.store ?? true) ? CMD_COMPL_WAIT_STORE : 0) | (opts.irq ? CMD_COMPL_WAIT_INT : 0);
  return cmd(CMD_COMPL_WAIT, (lo(storePa) & ~7) | flags, hi(storePa) & 0xfffff, lo(data), hi(data));
}

export function buildInvDte(devid: number): CmdWords {
  return cmd(CMD_INV_DEV_ENTRY, devid & 0xffff, 0, 0, 0);
}

/** `build_inv_iommu_pages`: PDE always set; GN with a PASID. */
export function buildInvIommuPages(
  domid: number,
  pasid: number | undefined,
  address: bigint,
  size: bigint,
  pde = true,
): CmdWords {
  const inv = buildInvAddress(address, size);
  let w2 = lo(inv) | (pde ? CMD_INV_PAGES_PDE : 0);
  let w0 = 0;
  if (pasid !== undefined) {
    w0 = pasid & 0xfffff;
    w2 |= CMD_INV_PAGES_GN;
  }
  return cmd(CMD_INV_IOMMU_PAGES, w0, domid & 0xffff, w2, hi(inv));
}

/** `build_inv_iotlb_pages`: an ATS invalidation for the device's IOTLB (ATC). */
export function buildInvIotlbPages(
  devid: number,
  qdep: number,
  address: bigint,
  size: bigint,
  pasid: number | undefined,
): CmdWords {
  const inv = buildInvAddress(address, size);
  let w0 = (devid & 0xffff) | ((qdep & 0xff) << 24);
  let w1 = devid & 0xffff;
  let w2 = lo(inv);
  if (pasid !== undefined) {
    w0 |= ((pasid >> 8) & 0xff) << 16;
    w1 |= (pasid & 0xff) << 16;
    w2 |= CMD_INV_PAGES_GN;
  }
  return cmd(CMD_INV_IOTLB_PAGES, w0, w1, w2, hi(inv));
}

export function buildInvAll(): CmdWords {
  return cmd(CMD_INV_ALL, 0, 0, 0, 0);
}

export function buildInvIrt(devid: number): CmdWords {
  return cmd(CMD_INV_IRT, devid & 0xffff, 0, 0, 0);
}

/** `build_complete_ppr`: the response to one PPR request (DeviceID, PASID, tag). */
export function buildCompletePpr(devid: number, pasid: number | undefined, status: number, tag: number) {
  const gn = pasid !== undefined;
  return cmd(
    CMD_COMPLETE_PPR,
    devid & 0xffff,
    gn ? pasid & 0xfffff : 0,
    gn ? CMD_INV_PAGES_GN : 0,
    (tag & 0x1ff) | ((status & 0xf) << 12),
  );
}

/** Reserved bits per word and opcode [spec]: any set → ILLEGAL_COMMAND_ERROR. */
export const CMD_RESERVED: Readonly<Record<number, CmdWords>> = {
  [CMD_COMPL_WAIT]: [0, 0x0ff0_0000, 0, 0],
  [CMD_INV_DEV_ENTRY]: [0xffff_0000, 0x0fff_ffff, 0xffff_ffff, 0xffff_ffff],
  [CMD_INV_IOMMU_PAGES]: [0xfff0_0000, 0x0fff_0000, 0xff8, 0],
  [CMD_INV_IOTLB_PAGES]: [0, 0x0f00_0000, 0xffa, 0],
  [CMD_INV_IRT]: [0xffff_0000, 0x0fff_ffff, 0xffff_ffff, 0xffff_ffff],
  [CMD_PREFETCH_PAGES]: [0x00ff_0000, 0x0ff0_0000, 0xff8, 0],
  [CMD_COMPLETE_PPR]: [0xffff_0000, 0x0ff0_0000, 0xffff_fffb, 0xffff_0e00],
  [CMD_INV_ALL]: [0xffff_ffff, 0x0fff_ffff, 0xffff_ffff, 0xffff_ffff],
};

export function hasReservedBits(w: CmdWords): boolean {
  const mask = CMD_RESERVED[opcodeOf(w)];
  if (!mask) return true;
  return ((w[0] & mask[0]) | (w[1] & mask[1]) | (w[2] & mask[2]) | (w[3] & mask[3])) !== 0;
}

/** The 64-bit address in words 2-3 (page invalidations). */
export function cmdAddress(w: CmdWords): bigint {
  return (BigInt(w[3]) << 32n) | BigInt(w[2]);
}
