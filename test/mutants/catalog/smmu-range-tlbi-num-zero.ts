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
    'Not catchable yet: the simulated SMMU decodes a range TLBI with TTL=0, NUM=0, SCALE=0 as one page (hw-commands tlbiRange) instead of treating the encoding as reserved; the hardware model needs that rule first, then a table-freeing unmap of one page after DMA cached the walk.',
};
