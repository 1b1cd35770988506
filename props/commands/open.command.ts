import { type Model, openCtx } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { at } from './pick.ts';

/** Opens /dev/iommu again for a process whose iommufd was closed. */
export class OpenCommand extends PropCommand<{ proc: number }> {
  readonly verb = 'open';

  check(m: Readonly<Model>): boolean {
    return m.procs.some((p) => p.ctx === undefined);
  }

  async exec(m: Model, w: World): Promise<void> {
    const proc = at(
      m.procs.filter((p) => p.ctx === undefined),
      this.args.proc,
    )!;
    const ctx = openCtx(m, proc.index);
    w.fds.set(ctx.key, w.procs[proc.index]!.openIommufd());
    w.ctxProc.set(ctx.key, proc.index);
    w.assign(`fd${proc.index}`, `p${proc.index}.openIommufd()`);
  }
}
