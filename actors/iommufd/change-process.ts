import { fail } from './errno.ts';
import type { IoctlArg } from './ioctl-table.ts';
import type { Ucmd } from './ucmd.ts';

export function iommufdIoasChangeProcess(
  _ucmd: Ucmd<IoctlArg<'IOMMU_IOAS_CHANGE_PROCESS'>>,
): void | Promise<void> {
  fail('ENOTTY', 'IOMMU_IOAS_CHANGE_PROCESS is not implemented yet');
}
