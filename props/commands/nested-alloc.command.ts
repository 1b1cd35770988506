import type { Model } from '../model/model.ts';
import { profileOf } from '../vendors/profile.ts';
import type { World } from '../world/world.ts';
import { changePt } from './change-pt.ts';
import { PropCommand } from './command.ts';
import { at, ctxOfProc } from './pick.ts';

/**
 * IOMMU_HWPT_ALLOC of a nested HWPT on a nest-parent HWPT of the ctx, with the vendor
 * profile's data for one of the ctx's bound devices (vendors without a profile are skipped).
 */
export class NestedAllocCommand extends PropCommand<{
  proc: number;
  parent: number;
  dev: number;
  /** Then attach the device's RID to it (a VMM installing a guest's stage 1). */
  attach?: boolean;
}> {
  readonly verb = 'nestedAlloc';

  check(m: Readonly<Model>): boolean {
    const ctx = ctxOfProc(m, this.args.proc);
    if (!ctx?.hwpts.some((h) => h.nestParent)) return false;
    return [...ctx.devices.keys()].some((d) => profileOf(m.devices[d]!.vendor).nested !== undefined);
  }

  async exec(m: Model, w: World): Promise<void> {
    const ctx = ctxOfProc(m, this.args.proc)!;
    const parent = at(
      ctx.hwpts.filter((h) => h.nestParent),
      this.args.parent,
    )!;
    const devs = [...ctx.devices].filter(([d]) => profileOf(m.devices[d]!.vendor).nested !== undefined);
    const [dev, devId] = at(devs, this.args.dev)!;
    const nested = profileOf(m.devices[dev]!.vendor).nested!;
    const r = await w.ioctl(ctx.key, 'IOMMU_HWPT_ALLOC', {
      flags: 0,
      dev_id: devId,
      pt_id: parent.id,
      data_type: nested.dataType,
      data_uptr: nested.data,
    });
    if (!r.ok) return;
    ctx.hwpts.push({
      id: Number(r.out.out_hwpt_id),
      kind: 'nested',
      ioas: parent.ioas,
      parent: parent.id,
      auto: false,
      pasidCompat: false,
      nestParent: false,
      translates: nested.translates,
    });
    // Position 0 among the ctx's HWPTs, newest first: this one.
    if (this.args.attach) await changePt(m, w, dev, { kind: 'hwpt', pos: 0 }, null);
  }
}
