import type { Model } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { ctxOfProc } from './pick.ts';

/** IOMMU_IOAS_ALLOC on a process's iommufd. */
export class IoasAllocCommand extends PropCommand<{ proc: number }> {
  readonly verb = 'ioasAlloc';

  check(m: Readonly<Model>): boolean {
    return ctxOfProc(m, this.args.proc) !== undefined;
  }

  async exec(m: Model, w: World): Promise<void> {
    const ctx = ctxOfProc(m, this.args.proc)!;
    const r = await w.ioctl(ctx.key, 'IOMMU_IOAS_ALLOC', {});
    if (r.ok) ctx.ioas.push({ id: Number(r.out.out_ioas_id), areas: [] });
  }
}
