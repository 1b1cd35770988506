import { fail } from './errno.ts';
import type { IoctlArg } from './ioctl-table.ts';
import type { Ucmd } from './ucmd.ts';

export function iommufdHwQueueAlloc(_ucmd: Ucmd<IoctlArg<'IOMMU_HW_QUEUE_ALLOC'>>): void | Promise<void> {
  fail('ENOTTY', 'IOMMU_HW_QUEUE_ALLOC is not implemented yet');
}
