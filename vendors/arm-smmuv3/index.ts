import type { IommuInstance } from '../../actors/kernel/iommu-core.ts';
import type { VendorContext } from '../registry.ts';
import { Smmuv3Driver } from './driver.ts';
import type { Smmuv3Options } from './features.ts';
import { Smmuv3Hardware } from './hardware.ts';

export { Smmuv3Driver } from './driver.ts';
export type { Smmuv3DriverFaults } from './driver-cmdq.ts';
export type { Smmuv3Options } from './features.ts';
export { Smmuv3Hardware, type Smmuv3HwFaults } from './hardware.ts';

/** Builds one arm-smmuv3 IOMMU instance (driver + hardware). */
export function createSmmuv3Iommu(ctx: VendorContext): IommuInstance {
  const options = ctx.options as Smmuv3Options;
  const hw = new Smmuv3Hardware({
    name: ctx.name,
    phys: ctx.phys,
    scheduler: ctx.scheduler,
    tracer: ctx.tracer,
    options,
    spawn: ctx.spawn,
  });
  const driver = new Smmuv3Driver(ctx.name, hw, options, ctx.faults);
  return { name: ctx.name, driver, hw };
}
