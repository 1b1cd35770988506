import { fail } from './errno.ts';
import type { IoctlArg } from './ioctl-table.ts';
import type { Ucmd } from './ucmd.ts';

export function iommufdVeventqAlloc(_ucmd: Ucmd<IoctlArg<'IOMMU_VEVENTQ_ALLOC'>>): void | Promise<void> {
  fail('ENOTTY', 'IOMMU_VEVENTQ_ALLOC is not implemented yet');
}
