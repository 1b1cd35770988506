import { isReferenced, modelObjects } from '../model/graph.ts';
import { type Model, noteUnmapped } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { at, ctxOfProc } from './pick.ts';

/**
 * IOMMU_DESTROY of the live object at `pos` (in ID order), or of a raw `id` (0, a freed or
 * never used one). The model says whether it is referenced, i.e. must fail EBUSY.
 */
export class DestroyCommand extends PropCommand<{ proc: number; pos: number; id?: number }> {
  readonly verb = 'destroy';

  check(m: Readonly<Model>): boolean {
    const ctx = ctxOfProc(m, this.args.proc);
    return ctx !== undefined && (this.args.id !== undefined || modelObjects(ctx).length > 0);
  }

  async exec(m: Model, w: World): Promise<void> {
    const ctx = ctxOfProc(m, this.args.proc)!;
    const target = this.args.id !== undefined ? { id: this.args.id } : at(modelObjects(ctx), this.args.pos)!;
    const known = modelObjects(ctx).find((o) => o.id === target.id);
    if (known && isReferenced(ctx, known.id))
      w.current.expect.busyDestroy = { ctx: ctx.key, id: known.id, type: known.type };
    const r = await w.ioctl(ctx.key, 'IOMMU_DESTROY', { id: target.id });
    if (!r.ok || !known) return;
    const ioas = ctx.ioas.findIndex((i) => i.id === known.id);
    if (ioas >= 0) {
      for (const a of ctx.ioas[ioas]!.areas)
        noteUnmapped(m, { ctx: ctx.key, ioas: known.id, iova: a.iova, length: a.length });
      ctx.ioas.splice(ioas, 1);
    }
    const hwpt = ctx.hwpts.findIndex((h) => h.id === known.id);
    if (hwpt >= 0) ctx.hwpts.splice(hwpt, 1);
  }
}
