import {
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
} from '../../actors/iommufd/uapi-iommufd.ts';
import type { Model } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { at, ctxOfProc, ioasAt } from './pick.ts';
import { noteFillUnwind } from './unwind.ts';

/** IOMMU_HWPT_ALLOC of a paging HWPT on an IOAS, for one of the ctx's bound devices. */
export class HwptAllocCommand extends PropCommand<{
  proc: number;
  ioas: number;
  dev: number;
  flags: number;
}> {
  readonly verb = 'hwptAlloc';

  check(m: Readonly<Model>): boolean {
    const ctx = ctxOfProc(m, this.args.proc);
    return ctx !== undefined && ctx.ioas.length > 0 && ctx.devices.size > 0;
  }

  async exec(m: Model, w: World): Promise<void> {
    const ctx = ctxOfProc(m, this.args.proc)!;
    const ioas = ioasAt(ctx, this.args.ioas)!;
    const devId = at([...ctx.devices.values()], this.args.dev)!;
    const { flags } = this.args;
    const r = await w.ioctl(ctx.key, 'IOMMU_HWPT_ALLOC', { flags, dev_id: devId, pt_id: ioas.id });
    noteFillUnwind(m, w, ctx, ioas.id, r);
    if (!r.ok) return;
    ctx.hwpts.push({
      id: Number(r.out.out_hwpt_id),
      kind: 'paging',
      ioas: ioas.id,
      parent: undefined,
      auto: false,
      pasidCompat: (flags & IOMMU_HWPT_ALLOC_PASID) !== 0,
      nestParent: (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0,
      dirty: (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0,
      translates: true,
    });
  }
}
