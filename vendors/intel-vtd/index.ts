import type { IommuInstance } from '../../actors/kernel/iommu-core.ts';
import { fail } from '../../actors/iommufd/errno.ts';
import type { VendorContext } from '../registry.ts';

/** Builds one intel-vtd IOMMU instance (driver + hardware). */
export function createVtdIommu(_ctx: VendorContext): IommuInstance {
  fail('ENODEV', 'intel-vtd is not simulated yet');
}
