import type { IommuInstance } from '../../actors/kernel/iommu-core.ts';
import { fail } from '../../actors/iommufd/errno.ts';
import type { VendorContext } from '../registry.ts';

/** Builds one arm-smmuv3 IOMMU instance (driver + hardware). */
export function createSmmuv3Iommu(_ctx: VendorContext): IommuInstance {
  fail('ENODEV', 'arm-smmuv3 is not simulated yet');
}
