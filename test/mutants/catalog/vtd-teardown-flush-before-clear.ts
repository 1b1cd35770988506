import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'vtd-teardown-flush-before-clear',
  models:
    '"iommu/vt-d: Clear Present bit before tearing down PASID entry" (6.18 stable): the entry must be ' +
    'made not-present before the caches are flushed; flushing first lets a DMA in between re-cache ' +
    'the old entry, which then survives the teardown.',
  file: 'vendors/intel-vtd/pasid-setup.ts',
  edits: [
    {
      find:
        '    info.clearEntry(pasid, faultIgnore);\n    await this.flusher.pasidCache(pe.did, pasid);\n' +
        '    if (pe.pgtt === PGTT_PT || pe.pgtt === PGTT_FL_ONLY) await this.flusher.piotlbAll(pe.did, pasid);\n' +
        '    else await this.flusher.iotlbDsi(pe.did);\n    await this.flusher.devtlbWithPasid(info, pasid);\n',
      replace:
        '    await this.flusher.pasidCache(pe.did, pasid);\n' +
        '    if (pe.pgtt === PGTT_PT || pe.pgtt === PGTT_FL_ONLY) await this.flusher.piotlbAll(pe.did, pasid);\n' +
        '    else await this.flusher.iotlbDsi(pe.did);\n    await this.flusher.devtlbWithPasid(info, pasid);\n' +
        '    info.clearEntry(pasid, faultIgnore);\n',
    },
  ],
  vendors: ['intel-vtd'],
  expected: ['isolation', 'no-stale'],
  needs:
    'a detach whose flushes are interleaved with a DMA from the same device (fabric delivery ' +
    'ordering inside the teardown), then DMA after the detach completed',
};
