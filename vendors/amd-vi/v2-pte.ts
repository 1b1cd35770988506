/**
 * The AMD v2 (guest) page table: the x86-64 long-mode format, 4 or 5 levels, 2 MiB and 1 GiB
 * pages through PS (Linux io_pgtable_v2.c). And the GCR3 table: 512 u64 entries per level,
 * indexed by PASID, bit 0 valid, bits 51:12 the next level or the guest CR3.
 */

export const V2_PRESENT = 1n << 0n;
export const V2_RW = 1n << 1n;
export const V2_USER = 1n << 2n;
export const V2_ACCESSED = 1n << 5n;
export const V2_DIRTY = 1n << 6n;
export const V2_PS = 1n << 7n;
export const V2_NX = 1n << 63n;
export const V2_ADDR_MASK = ((1n << 52n) - 1n) & ~0xfffn;

export const GCR3_VALID = 1n;
export const GCR3_ADDR_MASK = V2_ADDR_MASK;

/** Linux set_pgtable_attr: every PDE is present, writable, user, accessed and dirty. */
export function encodeV2Pde(tablePa: bigint): bigint {
  return (tablePa & V2_ADDR_MASK) | V2_PRESENT | V2_RW | V2_USER | V2_ACCESSED | V2_DIRTY;
}

/** Linux set_pte_attr: a user page, accessed and dirty preset, RW when writable, PS above level 1. */
export function encodeV2Leaf(pa: bigint, level: number, write: boolean): bigint {
  let pte = (pa & V2_ADDR_MASK) | V2_PRESENT | V2_USER | V2_ACCESSED | V2_DIRTY;
  if (write) pte |= V2_RW;
  if (level > 1) pte |= V2_PS;
  return pte;
}

/** Bits of a GCR3 table index consumed at `level` (0 = the table holding CR3s). */
export function gcr3Index(pasid: number, level: number): number {
  return Math.floor(pasid / 2 ** (9 * level)) & 0x1ff;
}
