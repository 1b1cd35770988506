import fc from 'fast-check';

/** 2 KiB (the mock IOMMU's page), 4 KiB, 2 MiB, 1 GiB. */
export const DEFAULT_PAGE_SIZES: readonly bigint[] = [0x800n, 0x1000n, 0x20_0000n, 0x4000_0000n];

export interface PageSizeConstraints {
  /** @defaultValue DEFAULT_PAGE_SIZES */
  readonly sizes?: readonly bigint[];
}

/** An IOMMU page size, smaller ones first (they shrink towards the smallest). */
export function pageSizeArb(constraints: PageSizeConstraints = {}): fc.Arbitrary<bigint> {
  const { sizes = DEFAULT_PAGE_SIZES } = constraints;
  if (sizes.length === 0) throw new Error('pageSizeArb needs at least one size');
  return fc.constantFrom(...[...sizes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
}
