import type { Model } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';

/** Lets everything in flight complete (delivery order from the run's plan). */
export class SettleCommand extends PropCommand<Record<string, never>> {
  readonly verb = 'settle';

  check(_m: Readonly<Model>): boolean {
    return true;
  }

  async exec(_m: Model, w: World): Promise<void> {
    if (w.farm.scheduler.busy) await w.settleAll();
  }
}
