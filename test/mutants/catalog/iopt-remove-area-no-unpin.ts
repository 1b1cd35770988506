import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'iopt-remove-area-no-unpin',
  models:
    '"iommufd: Fix unpinning of pages when an access is present" (2023) and similar unpin-path fixes: ' +
    'the domain unmap happens but the area pages are never unpinned, leaking pins and RLIMIT_MEMLOCK ' +
    'charge.',
  file: 'actors/iommufd/iopt-map.ts',
  edits: [
    {
      find: '  iopt.areas.remove(area.node);\n  if (area.domainPinned) {\n    area.pages.unpin(area.firstIndex, area.lastIndex);\n',
      replace: '  iopt.areas.remove(area.node);\n  if (area.domainPinned) {\n',
    },
  ],
  vendors: ['mock'],
  expected: ['accounting'],
  needs: 'an IOAS with an attached device (domain-pinned areas), IOAS_MAP, IOAS_UNMAP',
};
