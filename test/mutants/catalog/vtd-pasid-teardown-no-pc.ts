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
    'attach (RID or PASID), DMA so the PASID entry is cached, detach / destroy of the attachment ' +
    '(teardown), then DMA from the device expecting a fault',
};
