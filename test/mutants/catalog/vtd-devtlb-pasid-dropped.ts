import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'vtd-devtlb-pasid-dropped',
  models:
    '"iommu/vt-d: Fix missing PASID in dev TLB flush with cache_tag_flush_all" (6.11): device-TLB ' +
    "invalidations for a PASID attachment were sent as RID-only dev_tlb_inv_dsc, leaving the PASID's " +
    'ATC entries in place.',
  file: 'vendors/intel-vtd/cache-tags.ts',
  edits: [
    {
      find: '  if (tag.pasid === IOMMU_NO_PASID) return descDevIotlb(info.sid, info.pfsid, info.atsQdep, addr, mask);',
      replace:
        '  if (tag.pasid >= IOMMU_NO_PASID) return descDevIotlb(info.sid, info.pfsid, info.atsQdep, addr, mask);',
    },
  ],
  vendors: ['intel-vtd'],
  expected: ['no-stale', 'isolation'],
  needs: 'an ATS device with a paging HWPT attached at a PASID, DMA with that PASID, unmap, DMA again',
};
