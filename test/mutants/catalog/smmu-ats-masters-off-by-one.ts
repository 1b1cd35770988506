import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'smmu-ats-masters-off-by-one',
  models:
    'SMMUv3 nr_ats_masters decrement fix (2026): the domain count of ATS-enabled masters reads one too ' +
    'low, so arm_smmu_atc_inv_domain returns early while one ATS master still uses the domain and its ' +
    'ATC is never invalidated on unmap.',
  file: 'vendors/arm-smmuv3/invalidate.ts',
  edits: [{ find: '  if (users.length === 0) return;', replace: '  if (users.length <= 1) return;' }],
  vendors: ['arm-smmuv3'],
  expected: ['no-stale', 'isolation'],
  needs: 'a single ATS-capable device on a paging HWPT, DMA filling its ATC, IOAS_UNMAP, DMA again',
};
