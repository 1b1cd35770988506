import { applyClose } from '../model/graph.ts';
import type { Model } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { closeAccess } from './access.command.ts';
import { PropCommand } from './command.ts';
import { ctxOfProc } from './pick.ts';

/**
 * Closes a process's iommufd: first the VFIO cdevs bound to it (their bindings hold the ctx
 * open), then the fd; every object of the ctx must be gone afterwards.
 */
export class CloseCommand extends PropCommand<{ proc: number }> {
  readonly verb = 'close';

  check(m: Readonly<Model>): boolean {
    return ctxOfProc(m, this.args.proc) !== undefined;
  }

  async exec(m: Model, w: World): Promise<void> {
    await closeCtx(m, w, ctxOfProc(m, this.args.proc)!.key);
  }
}

/** Closes one ctx in the model and on the farm (also the final teardown of every run). */
export async function closeCtx(m: Model, w: World, key: number): Promise<void> {
  const ctx = m.ctxs.get(key)!;
  const altDomains = [...m.groups.values()].flatMap((g) =>
    [...g.domains]
      .filter(([, d]) => d.ctx === key)
      .map(([pasid]) => ({ group: g.key, pasid, target: undefined })),
  );
  const maybeRemoved = new Set(ctx.ioas.flatMap((i) => i.areas));
  w.current.expect.closed = [...(w.current.expect.closed ?? []), key];
  await w.within({ maybeRemoved, altDomains }, async () => {
    // An access fd holds the ctx open: it goes first, as a process's exit would close it.
    for (const a of [...ctx.accesses]) await closeAccess(ctx, w, a.fd);
    for (const dev of [...ctx.devices.keys()]) {
      const vdev = w.vfio.get(dev)!;
      await w.action('close', `vd${dev}.close()`, () => vdev.close());
      w.vfio.delete(dev);
    }
    const fd = w.fds.get(key)!;
    await w.action('close', `fd${ctx.proc}.close()`, () => fd.close());
    w.fds.delete(key);
    w.closed.set(key, fd);
  });
  applyClose(m, ctx);
}
