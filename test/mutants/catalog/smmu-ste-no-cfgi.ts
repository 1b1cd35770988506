import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'smmu-ste-no-cfgi',
  models:
    'SMMUv3 STE update without CFGI_STE (+ CMD_SYNC): arm_smmu_write_ste must invalidate the cached ' +
    'STE after each step of the update; without it the SMMU keeps translating with the old ' +
    'configuration (old domain after detach/replace).',
  file: 'vendors/arm-smmuv3/attach.ts',
  edits: [
    {
      find: '        if (!drv.active.skipCfgi) await drv.cmdq.issue([{ op: CMDQ_OP_CFGI_STE, sid: m.sid, leaf: 1 }], true);',
      replace: '        if (!drv.active.skipCfgi) await drv.cmdq.issue([], true);',
    },
  ],
  vendors: ['arm-smmuv3'],
  expected: ['isolation', 'no-stale'],
  needs: 'attach, DMA (caches the STE), detach or replace to another HWPT/IOAS, DMA again',
};
