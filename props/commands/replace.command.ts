import { attachmentsOfDevice } from '../model/graph.ts';
import type { Model } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { changePt, type PtTarget } from './change-pt.ts';
import { PropCommand } from './command.ts';
import { at } from './pick.ts';

/** Moves an existing attachment (the whole group's, at that PASID) to another IOAS or HWPT. */
export class ReplaceCommand extends PropCommand<{ attachment: number; target: PtTarget }> {
  readonly verb = 'replace';

  check(m: Readonly<Model>): boolean {
    return attached(m).length > 0;
  }

  async exec(m: Model, w: World): Promise<void> {
    const [dev, pasid] = at(attached(m), this.args.attachment)!;
    await changePt(m, w, dev, this.args.target, pasid < 0 ? null : pasid);
  }
}

/** Every (device, PASID) attachment in the model. */
export function attached(m: Readonly<Model>): Array<[number, number]> {
  return m.devices.flatMap((d) =>
    d.bound === undefined
      ? []
      : attachmentsOfDevice(m as Model, m.ctxs.get(d.bound)!, d.index).map((p): [number, number] => [
          d.index,
          p,
        ]),
  );
}
