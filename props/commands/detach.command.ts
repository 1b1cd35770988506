import { VFIO_DEVICE_DETACH_PASID } from '../../actors/iommufd/uapi-vfio.ts';
import { applyDetach, attachmentOf } from '../model/graph.ts';
import { type Model, RID } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { at } from './pick.ts';
import { attached } from './replace.command.ts';

/** VFIO_DEVICE_DETACH_IOMMUFD_PT of an attachment; the last device out blocks the group. */
export class DetachCommand extends PropCommand<{ attachment: number }> {
  readonly verb = 'detach';

  check(m: Readonly<Model>): boolean {
    return attached(m).length > 0;
  }

  async exec(m: Model, w: World): Promise<void> {
    const [dev, key] = at(attached(m), this.args.attachment)!;
    const d = m.devices[dev]!;
    const ctx = m.ctxs.get(d.bound!)!;
    const last = attachmentOf(m, ctx, dev, key)!.devices.size === 1;
    const r = await w.within(
      {
        maybeRemoved: new Set(),
        altDomains: last ? [{ group: d.group, pasid: key, target: undefined }] : [],
      },
      () =>
        w.vfioIoctl(dev, 'VFIO_DEVICE_DETACH_IOMMUFD_PT', {
          flags: key === RID ? 0 : VFIO_DEVICE_DETACH_PASID,
          pasid: key === RID ? 0 : key,
        }),
    );
    if (r.ok) applyDetach(m, ctx, dev, key);
  }
}
