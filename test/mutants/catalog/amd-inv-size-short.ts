import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'amd-inv-size-short',
  models:
    'AMD-Vi INVALIDATE_IOMMU_PAGES with the S bit and a size one power of two too small (build_inv_address ' +
    'rework, 2023; cf. "iommu/amd: Fix domain flush size when syncing iotlb"): the address mask names ' +
    'half of the range, so the upper pages stay cached.',
  file: 'vendors/amd-vi/commands.ts',
  edits: [
    {
      find: 'address | ((1n << BigInt(msbDiff)) - 1n);',
      replace: 'address | ((1n << BigInt(msbDiff - 1)) - 1n);',
    },
  ],
  vendors: ['amd-vi'],
  expected: ['no-stale', 'isolation'],
  needs:
    'Verified reachable by a direct scenario: map 3 pages at IOVA 0x8000, DMA-read each, IOAS_UNMAP, read 0xa000: stale. The campaign misses it because the unmap probe reads only the first 4 bytes of the removed areas and nothing warms the tail pages first.',
};
