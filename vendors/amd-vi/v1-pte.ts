/**
 * The AMD v1 (host) page-table entry: 64 bits, 512 per 4 KiB table, levels numbered 1 (4 KiB
 * entries) to 6. NextLevel 0 is a page of the level's size, 1-6 points at a table of that level
 * (levels in between are skipped), 7 is a page whose size is encoded in the address bits and
 * which is replicated over as many entries as it spans.
 */

export const PTE_PR = 1n << 0n;
/** Accessed, set by the IOMMU when DTE.HAD enables it. */
export const PTE_HA = 1n << 5n;
/** Dirty (Linux IOMMU_PTE_HD_BIT 6), set on a write when DTE.HAD = 3. */
export const PTE_HD = 1n << 6n;
export const PTE_NEXT_SHIFT = 9n;
export const PTE_ADDR_MASK = ((1n << 52n) - 1n) & ~0xfffn;
export const PTE_U = 1n << 59n;
export const PTE_FC = 1n << 60n;
export const PTE_IR = 1n << 61n;
export const PTE_IW = 1n << 62n;
export const NEXT_LEVEL_LARGE = 7;

/** log2 of the bytes one entry of a level-`level` table maps. */
export function levelShift(level: number): number {
  return 12 + 9 * (level - 1);
}

/** The 9-bit index of `iova` in a level-`level` table. */
export function levelIndex(level: number, iova: bigint): number {
  return Number((iova >> BigInt(levelShift(level))) & 0x1ffn);
}

export function nextLevel(pte: bigint): number {
  return Number((pte >> PTE_NEXT_SHIFT) & 7n);
}

/** A PDE as Linux writes it (PM_LEVEL_PDE): present, readable, writable, pointing at a level-`next` table. */
export function encodePde(next: number, tablePa: bigint): bigint {
  return (tablePa & PTE_ADDR_MASK) | (BigInt(next) << PTE_NEXT_SHIFT) | PTE_PR | PTE_IR | PTE_IW;
}

/** The table level that holds a leaf of `log2Size` bytes (Linux PAGE_SIZE_LEVEL, 1-based). */
export function leafLevel(log2Size: number): number {
  return Math.floor((log2Size - 12) / 9) + 1;
}

/** How many entries a page of `log2Size` bytes occupies (Linux PAGE_SIZE_PTE_COUNT). */
export function replicaCount(log2Size: number): number {
  return 1 << ((log2Size - 12) % 9);
}

/** A leaf PTE as Linux's iommu_v1_map_pages writes it, FC set. */
export function encodeLeaf(pa: bigint, log2Size: number, read: boolean, write: boolean): bigint {
  let pte: bigint;
  if (replicaCount(log2Size) > 1) {
    const size = 1n << BigInt(log2Size);
    // PAGE_SIZE_PTE: address | (size-1), with bit log2Size-1 clear, marks the size.
    pte = ((pa | (size - 1n)) & ~(size >> 1n) & PTE_ADDR_MASK) | (BigInt(NEXT_LEVEL_LARGE) << PTE_NEXT_SHIFT);
  } else pte = pa & PTE_ADDR_MASK;
  pte |= PTE_PR | PTE_FC;
  if (read) pte |= PTE_IR;
  if (write) pte |= PTE_IW;
  return pte;
}

/** log2 of a NextLevel-7 page's size: 1 + the first zero address bit at or above bit 12. */
export function largePageLog2(pte: bigint): number {
  let bit = 12;
  while (bit < 64 && (pte >> BigInt(bit)) & 1n) bit++;
  return bit + 1;
}

/** The page address of a leaf; for NextLevel 7 the size-marking low bits are masked off. */
export function leafAddress(pte: bigint, log2Size: number): bigint {
  return pte & PTE_ADDR_MASK & ~((1n << BigInt(log2Size)) - 1n);
}
