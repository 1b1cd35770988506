import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'vtd-devtlb-range-skipped',
  models:
    'Device-TLB never flushed on unmap for ATS devices (pKVM Intel IOMMU report; VT-d "Add missing ' +
    'device TLB invalidation" fixes): cache_tag_flush_range emits the IOTLB descriptor but no ' +
    'dev_tlb_inv_dsc for the DEVTLB tags.',
  file: 'vendors/intel-vtd/cache-tags.ts',
  edits: [
    {
      find: "        case 'devtlb':\n          out.push(devtlbDesc(tag, addr, mask));",
      replace: "        case 'devtlb':",
    },
  ],
  vendors: ['intel-vtd'],
  expected: ['no-stale', 'isolation'],
  needs: 'an ATS-capable device attached to a paging domain, DMA (filling the ATC), unmap, DMA again',
};
