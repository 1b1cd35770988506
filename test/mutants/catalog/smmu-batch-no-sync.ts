import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'smmu-batch-no-sync',
  models:
    'SMMUv3 TLBI/ATC_INV batch submitted without a trailing CMD_SYNC (arm_smmu_cmdq_batch_submit must ' +
    'sync; the class of "missing CMD_SYNC after TLBI" fixes, e.g. the Qualcomm SMMU-500 TLBIVA erratum ' +
    'use-after-free): unmap returns and pages are freed before the SMMU consumed the invalidation.',
  file: 'vendors/arm-smmuv3/driver-cmdq.ts',
  edits: [
    {
      find: '    return this.q.issue(this.#cmds.splice(0), true);',
      replace: '    return this.q.issue(this.#cmds.splice(0), false);',
    },
  ],
  vendors: ['arm-smmuv3'],
  expected: ['no-stale', 'isolation'],
  needs:
    'DMA that caches a translation, IOAS_UNMAP, then a DMA delivered before the CMDQ consumer reached ' +
    'the TLBI (fabric delivery order that lets DMA overtake the queue)',
};
