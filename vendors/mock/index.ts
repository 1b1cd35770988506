import type { IommuInstance } from '../../actors/kernel/iommu-core.ts';
import type { VendorContext } from '../registry.ts';
import { MockDriver } from './driver.ts';
import { MockHardware } from './hardware.ts';
import { installMockViommu } from './viommu.ts';

export { MockDriver } from './driver.ts';
export { MockHardware } from './hardware.ts';

/** The selftest mock IOMMU as a farm IOMMU instance. */
export function createMockIommu(ctx: VendorContext): IommuInstance {
  const hw = new MockHardware(ctx.name);
  const driver = new MockDriver(ctx.name, hw, ctx.faults, ctx.phys.failNth);
  installMockViommu(driver, ctx.phys);
  return { name: ctx.name, driver, hw };
}
