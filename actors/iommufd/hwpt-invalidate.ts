import { fail } from './errno.ts';
import type { IoctlArg } from './ioctl-table.ts';
import type { Ucmd } from './ucmd.ts';

export function iommufdHwptInvalidate(_ucmd: Ucmd<IoctlArg<'IOMMU_HWPT_INVALIDATE'>>): void | Promise<void> {
  fail('ENOTTY', 'IOMMU_HWPT_INVALIDATE is not implemented yet');
}
