import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'smmu-range-tlbi-short',
  models:
    'SMMUv3 range TLBI losing the last pages (wrong TG/NUM/SCALE split in __arm_smmu_tlb_inv_range): ' +
    'the page count is truncated to whole 2^SCALE chunks, so the remainder of the range is never ' +
    'invalidated.',
  file: 'vendors/arm-smmuv3/invalidate.ts',
  edits: [
    {
      find: '    numPages = size >> tg;\n',
      replace: '    numPages = size >> tg;\n    if (numPages > 1n) numPages &= ~1n;\n',
    },
  ],
  vendors: ['arm-smmuv3'],
  expected: ['no-stale', 'isolation'],
  needs: 'an unmap of an odd number (>1) of 4K pages, after DMA cached the last page, then DMA to it',
};
