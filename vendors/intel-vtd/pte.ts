/**
 * Page-table entry bits of the two VT-d formats (Linux `DMA_PTE_*`, `DMA_FL_PTE_*`).
 * Second stage: R 0, W 1, X 2, EMT 5:3, IPAT 6, PS 7, A 8, D 9, SNP 11, address 51:12.
 * First stage (x86-64 paging): P 0, R/W 1, U/S 2, PWT 3, PCD 4, A 5, D 6, PS 7, G 8,
 * address 51:12, XD 63. Both have 512 eight-byte entries per 4 KiB table.
 */

export const SS_R = 1n << 0n;
export const SS_W = 1n << 1n;
export const SS_X = 1n << 2n;
export const SS_PS = 1n << 7n;
export const SS_A = 1n << 8n;
export const SS_D = 1n << 9n;
export const SS_SNP = 1n << 11n;
/** Memory-type bits, meaningful only in leaves. */
export const SS_LEAF_ONLY = 0x78n;

export const FS_P = 1n << 0n;
export const FS_RW = 1n << 1n;
export const FS_US = 1n << 2n;
export const FS_A = 1n << 5n;
export const FS_D = 1n << 6n;
export const FS_PS = 1n << 7n;
export const FS_XD = 1n << 63n;

/** Output address bits 51:12. */
export const PTE_ADDR_MASK = 0x000f_ffff_ffff_f000n;
/** Address bits at or above the host address width (48) but below 52: reserved. */
export const PTE_ABOVE_HAW = 0x000f_0000_0000_0000n;

export type PtFormat = 'ss' | 'fs';

/** Level 1 maps 4 KiB, 2 maps 2 MiB, 3 maps 1 GiB; levels 4 and 5 only point to tables. */
export const levelShift = (level: number): bigint => BigInt(12 + 9 * (level - 1));
export const levelSize = (level: number): bigint => 1n << levelShift(level);
export const levelIndex = (iova: bigint, level: number): number =>
  Number((iova >> levelShift(level)) & 0x1ffn);

/** Second-stage table levels for a PASID-entry AW (1: 39-bit/3, 2: 48-bit/4, 3: 57-bit/5). */
export const awLevels = (aw: number): number => aw + 2;
export const awWidth = (aw: number): number => 30 + 9 * aw;
