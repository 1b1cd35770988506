import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'vtd-psi-pages-not-adjusted',
  models:
    '"iommu/vt-d: Fix aligned pages in calculate_psi_aligned_address()" (6.10): the page count was ' +
    'not recomputed after the mask grew for an unaligned start, so a p_iotlb descriptor built from it ' +
    '(first-stage domains) covers less than the PSI mask and misses the tail.',
  file: 'vendors/intel-vtd/cache-tags.ts',
  edits: [
    {
      find: 'return { addr: start & ~(align - 1n), pages: 1n << BigInt(mask), mask };',
      replace: 'return { addr: start & ~(align - 1n), pages: aligned, mask };',
    },
  ],
  vendors: ['intel-vtd'],
  expected: ['no-stale', 'isolation'],
  needs:
    'Verified reachable by a direct scenario: as vtd-psi-unaligned-mask (first-stage domain): 0x4000 and 0x5000 stale. The campaign misses it because the unmap probe reads only the first 4 bytes of the removed areas and nothing warms the tail pages first.',
};
