import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'smmu-s2-tlbi-wrong-vmid',
  models:
    'SMMUv3 stage-2 TLBI tagged with the wrong identifier (TLBI_S2_IPA built from the stage-1 ASID ' +
    'field instead of the domain VMID; the class of wrong ASID/VMID fixes around nested S2 domains and ' +
    'per-vSMMU VMIDs).',
  file: 'vendors/arm-smmuv3/invalidate.ts',
  edits: [
    {
      find: '        : { op: CMDQ_OP_TLBI_S2_IPA, vmid: tag(drv, d.vmid) };',
      replace: '        : { op: CMDQ_OP_TLBI_S2_IPA, vmid: tag(drv, d.asid) };',
    },
  ],
  vendors: ['arm-smmuv3'],
  expected: ['no-stale', 'isolation'],
  needs:
    'a NEST_PARENT HWPT attached at the RID, DMA to every page, IOAS_UNMAP, DMA again. A direct scenario doing exactly that still faulted after the unmap: check the simulated S2 unmap path before aiming the campaign',
};
