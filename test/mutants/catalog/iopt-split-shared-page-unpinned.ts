import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'iopt-split-shared-page-unpinned',
  models:
    'iommufd iopt_area_split (VFIO type1 partial unmap through iopt_cut_iova): a page shared by both ' +
    'halves of a split needs a second domain pin; without it unmapping one half unpins a page the other ' +
    'half still maps (pin count underflow / page reused while mapped).',
  file: 'actors/iommufd/iopt-cut.ts',
  edits: [
    {
      find: '    if (lhs.lastIndex === rhs.firstIndex) pages.pin(rhs.firstIndex, rhs.firstIndex);\n',
      replace: '',
    },
  ],
  vendors: ['mock'],
  expected: ['accounting', 'isolation'],
  needs:
    'VFIO type1 compat (or an IOAS with huge pages off): map with a sub-page user_va offset so a page ' +
    'straddles a cut, a partial unmap at that cut, then unmap of the other half',
};
