import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'access-unmap-notify-short',
  models:
    'iommufd access unmap notification skipped for part of the area (access->ops->unmap must cover the ' +
    'whole area being removed): pins in the last page are not dropped and IOAS_UNMAP fails EBUSY.',
  file: 'actors/iommufd/iopt-map.ts',
  edits: [
    {
      find: '      for (const access of [...iopt.accesses]) access.notifyUnmap(area.iova, area.length);',
      replace:
        '      for (const access of [...iopt.accesses]) access.notifyUnmap(area.iova, area.length - 4096n);',
    },
  ],
  vendors: ['mock'],
  expected: ['model', 'errno-atomicity'],
  needs:
    'an in-kernel access (selftest IOMMU_TEST_OP_ACCESS_PAGES) pinning the last page of an area, then IOAS_UNMAP',
};
