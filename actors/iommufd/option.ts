import { fail } from './errno.ts';
import type { IoctlArg } from './ioctl-table.ts';
import type { Ucmd } from './ucmd.ts';

export function iommufdOption(_ucmd: Ucmd<IoctlArg<'IOMMU_OPTION'>>): void | Promise<void> {
  fail('ENOTTY', 'IOMMU_OPTION is not implemented yet');
}
