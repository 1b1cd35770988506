import type { IommuInstance } from '../../actors/kernel/iommu-core.ts';
import { cmdqMachine } from '../../machines/cmdq.machine.ts';
import type { VendorContext } from '../registry.ts';
import { bootIommu } from './boot.ts';
import { buildInvAll, buildInvDte } from './commands.ts';
import { AmdViDriver } from './driver.ts';
import { withFarmFaults } from './faults.ts';
import { AmdViHardware } from './hardware.ts';
import { IrqThread } from './irq.ts';
import { resolveOptions } from './options.ts';
import { FEATURE_IA } from './regs.ts';

export { AmdViDriver } from './driver.ts';
export type { AmdViFaults } from './faults.ts';
export { AmdViHardware } from './hardware.ts';
export type { AmdViOptions } from './options.ts';

/**
 * Builds one AMD-Vi IOMMU: the hardware (registers, caches, command buffer machine, logs) and
 * the amd_iommu driver, booted as Linux does, with the boot-time cache flush queued.
 */
export function createAmdViIommu(ctx: VendorContext): IommuInstance {
  const o = resolveOptions(ctx.options);
  const queue = `${ctx.name}/cmdq`;
  const logic = cmdqMachine.provide({
    actions: {
      signalError: ({ context }) => {
        if (ctx.tracer.on) {
          const t = ctx.scheduler.now;
          ctx.tracer.emit({
            type: 'fault',
            t,
            iommu: ctx.name,
            reason: context.error ?? 'ERROR',
            detail: queue,
          });
        }
      },
    },
  });
  const cmdq = ctx.spawn(queue, logic, { name: queue });
  const hw = new AmdViHardware(ctx.phys, ctx.scheduler, ctx.tracer, cmdq, {
    name: ctx.name,
    efr: o.efr,
    efr2: o.efr2,
    cmdNs: o.cmdNs,
    linkNs: o.linkNs,
    iotlbEntries: o.iotlbEntries,
  });
  const layout = bootIommu(hw, ctx.phys, ctx.scheduler, o.deviceIds);
  const driver = new AmdViDriver(ctx.name, hw, ctx.phys, ctx.scheduler, layout, {
    pgtable: o.pgtable,
    npCache: o.npCache,
    iotlbSup: o.ats,
  });
  driver.faults = withFarmFaults({}, ctx.faults);
  driver.irq = new IrqThread(hw, ctx.phys, layout.eventLog, layout.pprLog, layout.logBytes, {
    event: (e) => driver.onEvent(e),
    ppr: (p) => driver.onPpr(p),
  });
  driver.irq.start();
  // amd_iommu_flush_all_caches: INVALIDATE_IOMMU_ALL, or every DTE one command at a time.
  void driver.serialize(async () => {
    if (o.efr & FEATURE_IA) await driver.issuer.queue(buildInvAll());
    else for (let devid = 0; devid < o.deviceIds; devid++) await driver.issuer.queue(buildInvDte(devid));
    await driver.issuer.completionWait();
  });
  return { name: ctx.name, driver, hw };
}
