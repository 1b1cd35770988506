import { fail } from './errno.ts';
import type { IoctlArg } from './ioctl-table.ts';
import type { Ucmd } from './ucmd.ts';

export function iommufdVfioIoas(_ucmd: Ucmd<IoctlArg<'IOMMU_VFIO_IOAS'>>): void | Promise<void> {
  fail('ENOTTY', 'IOMMU_VFIO_IOAS is not implemented yet');
}
