import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'amd-no-completion-wait',
  models:
    'AMD-Vi missing COMPLETION_WAIT after INVALIDATE_IOMMU_PAGES (domain_flush_complete): the driver ' +
    'returns from unmap, and the pages are released, before the IOMMU has executed the invalidation.',
  file: 'vendors/amd-vi/flush.ts',
  edits: [
    {
      find: '    }\n  }\n  await completion(f);\n}\n',
      replace: '    }\n  }\n}\n',
    },
  ],
  vendors: ['amd-vi'],
  expected: ['no-stale', 'isolation'],
  needs:
    'DMA that caches a translation, IOAS_UNMAP, and a DMA delivered before the command buffer head ' +
    'passed the INVALIDATE_IOMMU_PAGES (fabric ordering of the command processor vs the device)',
};
