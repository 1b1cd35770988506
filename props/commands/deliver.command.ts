import type { Model } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';

/** Delivers one in-flight message, picking the ready link by position: explores interleavings. */
export class DeliverCommand extends PropCommand<{ pick: number }> {
  readonly verb = 'deliver';

  check(_m: Readonly<Model>): boolean {
    return true;
  }

  async exec(_m: Model, w: World): Promise<void> {
    if (w.inflight.size > 0 || w.farm.scheduler.busy) await w.deliverOne(this.args.pick);
  }
}
