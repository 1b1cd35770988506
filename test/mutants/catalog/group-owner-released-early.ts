import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'group-owner-released-early',
  models:
    'Group DMA ownership released too early (iommu_device_release_dma_owner / group->owner_cnt; ' +
    'cf. the syzbot WARNING in iommufd_device_unbind): unbinding one device of a multi-device group ' +
    'drops the whole group ownership while its other devices stay bound, so another ctx can claim it.',
  file: 'actors/kernel/iommu-core.ts',
  edits: [
    {
      find: '    if (--group.ownerCount === 0) group.owner = undefined;',
      replace: '    group.ownerCount = 0;\n    group.owner = undefined;',
    },
  ],
  vendors: ['mock'],
  expected: ['group-ownership'],
  needs: 'a group with two devices, both bound to ctx A, one unbound, then a bind from ctx B',
};
