import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'amd-dte-no-inv',
  models:
    'AMD-Vi DTE change without INVALIDATE_DEVTAB_ENTRY (device_flush_dte): the IOMMU keeps the cached ' +
    'device table entry, so a device detached or moved to another domain still translates through ' +
    'the old page table root and DomainID.',
  file: 'vendors/amd-vi/flush.ts',
  edits: [
    {
      find: '  if (!f.faults.skipDteInvalidation) await f.issuer.queue(buildInvDte(dd.devid));\n',
      replace: '',
    },
  ],
  vendors: ['amd-vi'],
  expected: ['isolation', 'no-stale'],
  needs: 'attach, DMA (caches the DTE), detach or replace, DMA again',
};
