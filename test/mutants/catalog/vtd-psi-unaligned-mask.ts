import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'vtd-psi-unaligned-mask',
  models:
    'VT-d page-selective invalidation address/mask for unaligned ranges (calculate_psi_aligned_address, ' +
    'formerly iommu_flush_iotlb_psi): when the start PFN is not aligned to the rounded-up size, the mask ' +
    'must grow until start and end PFN share the block; without it the aligned block drops the tail.',
  file: 'vendors/intel-vtd/cache-tags.ts',
  edits: [
    {
      find:
        '  if (bitmask & pfn) {\n    const endPfn = pfn + pages - 1n;\n' +
        '    const shared = ~(pfn ^ endPfn) & ~bitmask & ((1n << 64n) - 1n);\n' +
        '    mask = shared ? ffs(shared) : MAX_AGAW_PFN_WIDTH;\n  }\n',
      replace: '',
    },
  ],
  vendors: ['intel-vtd'],
  expected: ['no-stale', 'isolation'],
  needs:
    'Verified reachable by a direct scenario: map 3 pages at IOVA 0x3000, DMA-read each page, IOAS_UNMAP, read 0x4000 and 0x5000: stale. The campaign misses it because the unmap probe reads only the first 4 bytes of the removed areas and nothing warms the tail pages first.',
};
