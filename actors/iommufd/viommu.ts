import type { ViommuDriverObject } from '../../vendors/driver.ts';
import type { IommuInstance } from '../kernel/iommu-core.ts';
import { fail } from './errno.ts';
import type { HwptPaging } from './hwpt-paging.ts';
import type { IoctlArg } from './ioctl-table.ts';
import { IommufdObject } from './object.ts';
import type { Ucmd } from './ucmd.ts';

/** IOMMUFD_OBJ_VIOMMU: a slice of a physical IOMMU presented to a VM. */
export class Viommu extends IommufdObject {
  readonly type = 'VIOMMU' as const;

  constructor(
    readonly iommu: IommuInstance,
    readonly hwpt: HwptPaging,
    readonly ops: ViommuDriverObject,
  ) {
    super();
    hwpt.get();
  }

  destroy(): void {
    this.ops.destroy();
    this.hwpt.put();
  }
}

export function iommufdViommuAlloc(_ucmd: Ucmd<IoctlArg<'IOMMU_VIOMMU_ALLOC'>>): void | Promise<void> {
  fail('ENOTTY', 'IOMMU_VIOMMU_ALLOC is not implemented yet');
}
