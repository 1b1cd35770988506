import type { IommuInstance } from '../../actors/kernel/iommu-core.ts';
import type { VendorContext } from '../registry.ts';
import { DEFAULT_DRIVER_OPTIONS, VtdDriver, type VtdDriverOptions } from './driver.ts';
import { DEFAULT_TIMING, VtdHardware, type VtdTiming } from './hardware.ts';
import { featuresFrom } from './regs.ts';

export { VtdDriver } from './driver.ts';
export type { VtdFaults } from './flush.ts';
export { VtdHardware } from './hardware.ts';

/** Options of `host.addIommu({ name, vendor: 'intel-vtd', ... })` beyond the VtdFeatures bits. */
export interface VtdOptions extends Partial<VtdTiming>, Partial<VtdDriverOptions> {
  readonly iotlbEntries?: number;
}

/**
 * Builds one intel-vtd IOMMU instance: a scalable-mode DMAR unit (hardware) and the intel-iommu
 * driver that boots it. Feature bits (`ssads`, `nest`, `fsts`, `prs`, `dt`, `pasidBits`, `sllps`,
 * `fs1gp`, `nfr`, `mamv`), timing (`descNs`, `linkNs`, `atcTimeoutNs`) and driver options
 * (`firstStage`, `errata772415`, `pollNs`, `prqOrder`, `iotlbEntries`) come from the options.
 */
export function createVtdIommu(ctx: VendorContext): IommuInstance {
  const o = ctx.options as VtdOptions;
  const timing: VtdTiming = {
    descNs: o.descNs ?? DEFAULT_TIMING.descNs,
    linkNs: o.linkNs ?? DEFAULT_TIMING.linkNs,
    atcTimeoutNs: o.atcTimeoutNs ?? DEFAULT_TIMING.atcTimeoutNs,
  };
  const hw = new VtdHardware(ctx, featuresFrom(ctx.options), timing, o.iotlbEntries ?? 4096);
  const driver = new VtdDriver(
    ctx.name,
    hw,
    ctx.phys,
    ctx.scheduler,
    ctx.tracer,
    {
      firstStage: o.firstStage ?? DEFAULT_DRIVER_OPTIONS.firstStage,
      errata772415: o.errata772415 ?? DEFAULT_DRIVER_OPTIONS.errata772415,
      pollNs: o.pollNs ?? DEFAULT_DRIVER_OPTIONS.pollNs,
      prqOrder: o.prqOrder ?? DEFAULT_DRIVER_OPTIONS.prqOrder,
    },
    ctx.faults,
  );
  return { name: ctx.name, driver, hw };
}
