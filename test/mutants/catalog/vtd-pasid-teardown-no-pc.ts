import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'vtd-pasid-teardown-no-pc',
  models:
    'VT-d PASID-cache invalidation missing on PASID entry teardown (intel_pasid_tear_down_entry must ' +
    'issue pc_inv_dsc after clearing the entry; cf. the 6.18 stable fixes to the teardown sequence): the ' +
    'hardware keeps using the cached PASID entry after detach.',
  file: 'vendors/intel-vtd/pasid-setup.ts',
  edits: [
    {
      find: '    info.clearEntry(pasid, faultIgnore);\n    await this.flusher.pasidCache(pe.did, pasid);\n',
      replace: '    info.clearEntry(pasid, faultIgnore);\n',
    },
  ],
  vendors: ['intel-vtd'],
  expected: ['isolation', 'no-stale'],
  needs:
    'attach at the RID or a PASID, DMA so the PASID entry is cached, detach, DMA again. A direct RID attach/DMA/detach/DMA scenario faulted as it should: the RID detach may not reach intel_pasid_tear_down_entry here; PASID detach (IOMMU_HWPT_ATTACH at a PASID, then detach) is the likelier path',
};
