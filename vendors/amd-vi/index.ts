import type { IommuInstance } from '../../actors/kernel/iommu-core.ts';
import { fail } from '../../actors/iommufd/errno.ts';
import type { VendorContext } from '../registry.ts';

/** Builds one amd-vi IOMMU instance (driver + hardware). */
export function createAmdViIommu(_ctx: VendorContext): IommuInstance {
  fail('ENODEV', 'amd-vi is not simulated yet');
}
