import type fc from 'fast-check';
import type { Model } from '../model/model.ts';
import { lit } from '../world/code.ts';
import type { World } from '../world/world.ts';

/**
 * A model-based command: `check` reads only the model (targets are picked by position among
 * live handles, so a command stays valid while fast-check shrinks the ones before it), `run`
 * performs it on the farm as one checked step, and `toString` is one line of a runnable script
 * (`await w.map({ ... })`, see `ScriptWorld`).
 */
export abstract class PropCommand<Args extends object = object> implements fc.AsyncCommand<Model, World> {
  /** The `ScriptWorld` method that replays it. */
  abstract readonly verb: string;

  constructor(readonly args: Args) {}

  abstract check(m: Readonly<Model>): boolean;

  run(m: Model, w: World): Promise<void> {
    return w.step(this.toString(), () => this.exec(m, w), this.verb);
  }

  /** Performs the command (as part of the current step). */
  abstract exec(m: Model, w: World): Promise<void>;

  toString(): string {
    return `await w.${this.verb}(${lit(this.args)});`;
  }
}
