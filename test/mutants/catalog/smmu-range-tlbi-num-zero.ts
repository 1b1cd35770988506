import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'smmu-range-tlbi-num-zero',
  models:
    '"iommu/arm-smmu-v3: Fix TLB range command encoding when TTL, Num and Scale are all zero" (2023): ' +
    'a non-leaf range TLBI of one page with TTL=0 encodes NUM=0/SCALE=0, which the architecture treats ' +
    'as reserved; the driver must round the page count up to two.',
  file: 'vendors/arm-smmuv3/invalidate.ts',
  edits: [
    {
      find: '    else if ((numPages & BigInt(CMDQ_TLBI_RANGE_NUM_MAX)) === 1n) numPages++;\n',
      replace: '',
    },
  ],
  vendors: ['arm-smmuv3'],
  expected: ['no-stale', 'isolation'],
  needs:
    'an unmap that frees a page table (non-leaf walk-cache flush) covering an odd number of pages ' +
    'with RIL, after DMA cached the walk',
};
