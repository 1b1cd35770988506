import type { Model } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { changePt, type PtTarget } from './change-pt.ts';
import { PropCommand } from './command.ts';
import { at, boundDevices } from './pick.ts';

/** Attaches a bound device (RID, or a PASID) to an IOAS or HWPT of its ctx. */
export class AttachCommand extends PropCommand<{ dev: number; target: PtTarget; pasid: number | null }> {
  readonly verb = 'attach';

  check(m: Readonly<Model>): boolean {
    return boundDevices(m).some((d) => m.ctxs.get(d.bound!)!.ioas.length > 0);
  }

  async exec(m: Model, w: World): Promise<void> {
    const devs = boundDevices(m).filter((d) => m.ctxs.get(d.bound!)!.ioas.length > 0);
    // A PASID attach from a device that can tag PASIDs, if one is bound.
    const capable = devs.filter((d) => d.pasid);
    const dev = at(this.args.pasid !== null && capable.length > 0 ? capable : devs, this.args.dev)!;
    await changePt(m, w, dev.index, this.args.target, this.args.pasid);
  }
}
