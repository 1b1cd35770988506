import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'add-domain-unwind-no-unpin',
  models:
    'iommufd accounting on the error unwind of iopt_table_add_domain / iopt_fill_domains_pages: a pin ' +
    'that fails part-way (RLIMIT_MEMLOCK) must unpin and uncharge what the earlier areas pinned.',
  file: 'actors/iommufd/iopt-map.ts',
  edits: [
    {
      find:
        '    for (const area of mapped.reverse()) await domain.unmap(area.iova, area.length);\n' +
        '    for (const area of pinned) {\n      area.pages.unpin(area.firstIndex, area.lastIndex);\n',
      replace:
        '    for (const area of mapped.reverse()) await domain.unmap(area.iova, area.length);\n' +
        '    for (const area of pinned) {\n',
    },
  ],
  vendors: ['mock'],
  expected: ['accounting', 'errno-atomicity'],
  needs:
    'several areas mapped in an IOAS with no device, a memlock limit below their total, then the first ' +
    'attach (pinning fails with ENOMEM part-way)',
};
