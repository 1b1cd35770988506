import type { Mutant } from '../mutant.ts';

export const mutant: Mutant = {
  name: 'replace-old-hwpt-ref-leak',
  models:
    'iommufd refcount leak on replace (iommufd_device_do_replace must drop the old HWPT reference for ' +
    'each device of the group): the old HWPT can never be destroyed (EBUSY) and an auto domain lingers.',
  file: 'actors/iommufd/igroup.ts',
  edits: [
    {
      find: '  for (let i = 0; i < attach.devices.size; i++) {\n    hwpt.get();\n    old.put();\n  }',
      replace: '  for (let i = 0; i < attach.devices.size; i++) {\n    hwpt.get();\n  }',
    },
  ],
  vendors: ['mock'],
  expected: ['object-graph', 'model'],
  needs: 'attach to HWPT A, replace with HWPT B, then destroy A (or check refcounts)',
};
