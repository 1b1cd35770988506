import { fail } from './errno.ts';
import type { IoctlArg } from './ioctl-table.ts';
import type { Ucmd } from './ucmd.ts';

export function iommufdHwptSetDirtyTracking(
  _ucmd: Ucmd<IoctlArg<'IOMMU_HWPT_SET_DIRTY_TRACKING'>>,
): void | Promise<void> {
  fail('ENOTTY', 'IOMMU_HWPT_SET_DIRTY_TRACKING is not implemented yet');
}

export function iommufdHwptGetDirtyBitmap(
  _ucmd: Ucmd<IoctlArg<'IOMMU_HWPT_GET_DIRTY_BITMAP'>>,
): void | Promise<void> {
  fail('ENOTTY', 'IOMMU_HWPT_GET_DIRTY_BITMAP is not implemented yet');
}
