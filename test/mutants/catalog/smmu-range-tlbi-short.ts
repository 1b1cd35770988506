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
  needs:
    'Verified reachable by a direct scenario: map 3 pages at IOVA 0x3000, DMA-read each, IOAS_UNMAP, read 0x5000: stale. The campaign misses it because the unmap probe reads only the first 4 bytes of the removed areas and nothing warms the tail pages first.',
};
