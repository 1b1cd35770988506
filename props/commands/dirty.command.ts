import {
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
  IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
} from '../../actors/iommufd/uapi-iommufd.ts';
import type { Model } from '../model/model.ts';
import { SCRATCH_VA } from '../world/tags.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { HwptAllocCommand } from './hwpt-alloc.command.ts';
import { at, ctxOfProc } from './pick.ts';

export interface DirtyArgs {
  proc: number;
  /** Position among the ctx's paging HWPTs, those allocated for dirty tracking first. */
  hwpt: number;
  op: 'enable' | 'disable' | 'read';
  /** The area (of the HWPT's IOAS) whose dirty bits to read. */
  area: number;
  noClear: boolean;
}

/**
 * Dirty tracking on a paging HWPT: IOMMU_HWPT_SET_DIRTY_TRACKING on or off, or
 * IOMMU_HWPT_GET_DIRTY_BITMAP over one of its areas (into the process's scratch page). Neither
 * changes what a DMA may reach.
 */
export class DirtyCommand extends PropCommand<DirtyArgs> {
  readonly verb = 'dirty';

  check(m: Readonly<Model>): boolean {
    return ctxOfProc(m, this.args.proc)?.hwpts.some((h) => h.kind === 'paging') ?? false;
  }

  async exec(m: Model, w: World): Promise<void> {
    const ctx = ctxOfProc(m, this.args.proc)!;
    // Without a HWPT allocated for dirty tracking every call is EINVAL: a VMM starting live
    // migration allocates one first (on the IOAS of the newest paging HWPT).
    if (!ctx.hwpts.some((h) => h.dirty) && ctx.devices.size > 0) {
      const base = ctx.hwpts.filter((h) => h.kind === 'paging').at(-1)!;
      await new HwptAllocCommand({
        proc: this.args.proc,
        ioas: Math.max(
          0,
          ctx.ioas.findIndex((i) => i.id === base.ioas),
        ),
        dev: 0,
        flags: IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
      }).exec(m, w);
    }
    const paging = ctx.hwpts.filter((h) => h.kind === 'paging');
    const hwpt = at([...paging.filter((h) => h.dirty), ...paging.filter((h) => !h.dirty)], this.args.hwpt)!;
    // A read enables tracking first (as a migration does before its first pass).
    const enable = this.args.op !== 'disable';
    const set = await w.ioctl(ctx.key, 'IOMMU_HWPT_SET_DIRTY_TRACKING', {
      hwpt_id: hwpt.id,
      flags: enable ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0,
    });
    if (set.ok && enable) w.note('dirty-tracking');
    if (this.args.op !== 'read') return;
    const area = at(ctx.ioas.find((i) => i.id === hwpt.ioas)?.areas ?? [], this.args.area);
    const iova = area ? area.iova & ~0xfffn : 0n;
    const length = area ? ((area.iova + area.length + 0xfffn) & ~0xfffn) - iova : 0x1000n;
    const r = await w.ioctl(ctx.key, 'IOMMU_HWPT_GET_DIRTY_BITMAP', {
      hwpt_id: hwpt.id,
      iova,
      // One page of bitmap covers 32768 pages: more than any area here.
      length: length > 0x800_0000n ? 0x800_0000n : length,
      page_size: 0x1000n,
      data: SCRATCH_VA,
      flags: this.args.noClear ? IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR : 0,
    });
    if (r.ok) w.note('dirty-bitmap');
  }
}
