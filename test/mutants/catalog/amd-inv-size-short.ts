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
  needs: 'an unmap of several pages crossing an alignment boundary, after DMA cached the last pages',
};
