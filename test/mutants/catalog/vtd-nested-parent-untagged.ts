import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'vtd-nested-parent-untagged',
  models:
    'VT-d nested series (Feb 2024, "iommu/vt-d: Track nested domains in parent" / "Add missing iotlb ' +
    'flush for parent domain"): a nested domain did not register with its nest parent, so an unmap on ' +
    'the stage-2 parent missed the IOTLB flush of the nested DIDs and the device-TLB flush.',
  file: 'vendors/intel-vtd/nested-domain.ts',
  edits: [
    {
      find: '    this.parent.tags.assignDomain(did, pasid, info, true);\n',
      replace: '',
    },
  ],
  vendors: ['intel-vtd'],
  expected: ['no-stale', 'isolation'],
  needs:
    'a nest-parent HWPT on an IOAS, a nested (VTD_S1) HWPT attached to a device, DMA through the nested ' +
    'translation, then IOAS_UNMAP of the stage-2 range and DMA again',
};
