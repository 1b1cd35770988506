import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'amd-v2-flush-wrong-domid',
  models:
    '"iommu/amd: Introduce per-device domain ID to fix potential TLB aliasing issue" (2024/25): with v2 ' +
    'page tables each device GCR3 table is tagged with its own DomainID; INVALIDATE_IOMMU_PAGES built ' +
    'with the paging domain ID leaves the device-tagged IOTLB entries in place.',
  file: 'vendors/amd-vi/flush.ts',
  edits: [
    {
      find: '      await iotlb(f, buildInvIommuPages(tag(f, dd.gcr3!.domid), 0, address, size));',
      replace: '      await iotlb(f, buildInvIommuPages(tag(f, dom.id), 0, address, size));',
    },
  ],
  vendors: ['amd-vi'],
  expected: ['no-stale', 'isolation'],
  needs: 'a v2 (guest page table) paging domain attached at the RID, DMA, IOAS_UNMAP, DMA again',
};
