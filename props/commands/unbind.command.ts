import { applyUnbind, attachmentsOfDevice } from '../model/graph.ts';
import { attachKey, type Model } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { at, boundDevices } from './pick.ts';

/** Closes a bound device's VFIO cdev: the device unbinds (detaching everywhere first). */
export class UnbindCommand extends PropCommand<{ dev: number }> {
  readonly verb = 'unbind';

  check(m: Readonly<Model>): boolean {
    return boundDevices(m).length > 0;
  }

  async exec(m: Model, w: World): Promise<void> {
    const dev = at(boundDevices(m), this.args.dev)!;
    const ctx = m.ctxs.get(dev.bound!)!;
    const vdev = w.vfio.get(dev.index)!;
    const altDomains = attachmentsOfDevice(m, ctx, dev.index)
      .filter((pasid) => ctx.attach.get(attachKey(dev.group, pasid))!.devices.size === 1)
      .map((pasid) => ({ group: dev.group, pasid, target: undefined }));
    await w.within({ maybeRemoved: new Set(), altDomains }, () =>
      w.action('close', `vd${dev.index}.close()`, () => vdev.close()),
    );
    w.vfio.delete(dev.index);
    applyUnbind(m, ctx, dev.index);
  }
}
