import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'smmu-nest-parent-no-nh-all',
  models:
    'SMMUv3 nesting: an unmap on a nest-parent stage-2 must also invalidate the combined S1+S2 entries ' +
    'of every nested domain (TLBI_NH_ALL on the VMID); the S2-only TLBI leaves nested translations ' +
    'cached (the nested-translation invalidation gap named in the invalidation-array series).',
  file: 'vendors/arm-smmuv3/invalidate.ts',
  edits: [
    {
      find: '    if (d.nestParent) await drv.cmdq.issue([{ op: CMDQ_OP_TLBI_NH_ALL, vmid: tag(drv, d.vmid) }], true);\n',
      replace: '',
    },
  ],
  vendors: ['arm-smmuv3'],
  expected: ['no-stale', 'isolation'],
  needs:
    'a nest parent, a vIOMMU + nested HWPT (SMMUV3 STE) attached, DMA through the nested translation, ' +
    'IOAS_UNMAP of the stage-2 range, DMA again',
};
