import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'copy-partial-area-offset',
  models:
    'IOAS_COPY of a partial area (iopt_get_pages for a range starting inside an area must start at the ' +
    'offset into the area pages): the copy maps the first pages of the source area instead.',
  file: 'actors/iommufd/iopt-map.ts',
  edits: [
    {
      find: '    return { pages: area.pages, startByte: area.byteOf(from), length: to - from + 1n };',
      replace: '    return { pages: area.pages, startByte: area.startByte, length: to - from + 1n };',
    },
  ],
  vendors: ['mock'],
  expected: ['isolation', 'model'],
  needs: 'IOAS_MAP of several pages, IOAS_COPY of a range starting past the first page, DMA through the copy',
};
