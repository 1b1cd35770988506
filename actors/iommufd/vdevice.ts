import { fail } from './errno.ts';
import type { IoctlArg } from './ioctl-table.ts';
import { IommufdObject } from './object.ts';
import type { Ucmd } from './ucmd.ts';

/** IOMMUFD_OBJ_VDEVICE: a device as the vIOMMU names it (its virtual ID). */
export class Vdevice extends IommufdObject {
  readonly type = 'VDEVICE' as const;
  destroy(): void {}
}

export function iommufdVdeviceAlloc(_ucmd: Ucmd<IoctlArg<'IOMMU_VDEVICE_ALLOC'>>): void | Promise<void> {
  fail('ENOTTY', 'IOMMU_VDEVICE_ALLOC is not implemented yet');
}
