/** Page geometry shared by physical memory, address spaces and files (x86-64 / arm64 4K granule). */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PAGE_SIZE_N = 4096n;
export const PAGE_MASK_N = ~(PAGE_SIZE_N - 1n);

/** The PMD-level huge page that hugetlbfs hands out by default. */
export const HPAGE_SHIFT = 21;
export const HPAGE_SIZE = 1 << HPAGE_SHIFT;
export const HPAGE_SIZE_N = 1n << 21n;
export const HPAGE_PAGES = HPAGE_SIZE / PAGE_SIZE;

export function pfnToPa(pfn: bigint): bigint {
  return pfn << 12n;
}

export function paToPfn(pa: bigint): bigint {
  return pa >> 12n;
}

/** Rounds `n` up to a multiple of `align` (a power of two). */
export function alignUp(n: bigint, align: bigint): bigint {
  return (n + align - 1n) & ~(align - 1n);
}

export function alignDown(n: bigint, align: bigint): bigint {
  return n & ~(align - 1n);
}

export function isAligned(n: bigint, align: bigint): boolean {
  return (n & (align - 1n)) === 0n;
}

export function isPowerOfTwo(n: bigint): boolean {
  return n > 0n && (n & (n - 1n)) === 0n;
}
