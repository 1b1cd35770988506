import { attachmentsOfDevice } from '../model/graph.ts';
import type { Model } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { changePt, type PtTarget } from './change-pt.ts';
import { PropCommand } from './command.ts';
import { at } from './pick.ts';

export interface ReplaceArgs {
  attachment: number;
  target: PtTarget;
  /** Move to a target on another IOAS than the current one (if the ctx has one). */
  elsewhere?: boolean;
  /** Then read the first and last page of what the old domain mapped: it must not be reachable any more (unless the new one maps it too). */
  probe?: boolean;
}

/** Moves an existing attachment (the whole group's, at that PASID) to another IOAS or HWPT. */
export class ReplaceCommand extends PropCommand<ReplaceArgs> {
  readonly verb = 'replace';

  check(m: Readonly<Model>): boolean {
    return attached(m).length > 0;
  }

  async exec(m: Model, w: World): Promise<void> {
    const [dev, pasid] = at(attached(m), this.args.attachment)!;
    const before = m.previous.at(-1);
    const ok = await changePt(m, w, dev, this.args.target, pasid < 0 ? null : pasid, {
      elsewhere: this.args.elsewhere ?? false,
    });
    const moved = m.previous.at(-1);
    if (!ok || !this.args.probe || moved === undefined || moved === before) return;
    const old = moved.areas.slice(0, 2);
    for (const a of old) {
      for (const iova of [a.iova, a.iova + a.length - 4n]) {
        const h = w.issueDma({
          dev,
          pasid: pasid < 0 ? undefined : pasid,
          op: 'read',
          iova,
          length: 4,
          writer: 0xff,
        });
        if (h) await w.awaitDma(h);
      }
    }
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
