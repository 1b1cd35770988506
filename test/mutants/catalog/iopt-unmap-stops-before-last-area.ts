import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'iopt-unmap-stops-before-last-area',
  models:
    'iommufd iopt_unmap_iova_range walking its interval tree one area short (the class of area-iteration ' +
    'bugs behind the syzbot use-after-free reports in iopt_unmap_iova_range): an unmap spanning several ' +
    'areas reports success but leaves the last area mapped and its pages pinned.',
  file: 'actors/iommufd/iopt-map.ts',
  edits: [
    {
      find: '    await removeArea(iopt, area);\n    unmapped += area.length;\n',
      replace:
        '    if (unmapped > 0n && area.last === last) break;\n    await removeArea(iopt, area);\n    unmapped += area.length;\n',
    },
  ],
  vendors: ['mock'],
  expected: ['model', 'isolation', 'accounting'],
  needs: 'two adjacent IOAS_MAPs, then one IOAS_UNMAP covering both exactly; then DMA or a model check',
};
