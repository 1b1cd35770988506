import type { Model } from '../model/model.ts';
import { profileOf } from '../vendors/profile.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { at, ctxOfProc } from './pick.ts';

/**
 * IOMMU_HWPT_INVALIDATE on a nested HWPT with entries from its vendor's profile (all, one, a
 * list that fails part way, none). It never changes what a DMA may reach.
 */
export class InvalidateCommand extends PropCommand<{ proc: number; hwpt: number; kind: number }> {
  readonly verb = 'invalidate';

  check(m: Readonly<Model>): boolean {
    const ctx = ctxOfProc(m, this.args.proc);
    return ctx?.hwpts.some((h) => h.kind === 'nested') ?? false;
  }

  async exec(m: Model, w: World): Promise<void> {
    const ctx = ctxOfProc(m, this.args.proc)!;
    const hwpt = at(
      ctx.hwpts.filter((h) => h.kind === 'nested'),
      this.args.hwpt,
    )!;
    // The vendor of any bound device of the ctx names the payload; nested HWPTs exist only where a profile does.
    const vendor = [...ctx.devices.keys()]
      .map((d) => m.devices[d]!.vendor)
      .find((v) => profileOf(v).invalidate);
    const inv = vendor === undefined ? undefined : profileOf(vendor).invalidate;
    if (!inv) return;
    const entries = at(inv.kinds, this.args.kind)!;
    await w.ioctl(ctx.key, 'IOMMU_HWPT_INVALIDATE', {
      hwpt_id: hwpt.id,
      data_type: inv.dataType,
      entry_num: entries.length,
      data_uptr: entries.length > 0 ? entries : 0n,
      ...(entries.length === 0 ? { entry_len: 0 } : {}),
    });
  }
}
