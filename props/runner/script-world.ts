import type { FaultName } from '../../actors/runtime/faults.ts';
import type { TopologySpec } from '../arbitraries/topology.ts';
import { AccessCommand } from '../commands/access.command.ts';
import { AttachCommand } from '../commands/attach.command.ts';
import { BindCommand } from '../commands/bind.command.ts';
import { CloseCommand } from '../commands/close.command.ts';
import type { PropCommand } from '../commands/command.ts';
import { CopyCommand } from '../commands/copy.command.ts';
import { DeliverCommand } from '../commands/deliver.command.ts';
import { DestroyCommand } from '../commands/destroy.command.ts';
import { DetachCommand } from '../commands/detach.command.ts';
import { DirtyCommand } from '../commands/dirty.command.ts';
import { DmaCommand } from '../commands/dma.command.ts';
import { HwptAllocCommand } from '../commands/hwpt-alloc.command.ts';
import { InvalidateCommand } from '../commands/invalidate.command.ts';
import { IoasAllocCommand } from '../commands/ioas-alloc.command.ts';
import { MapCommand } from '../commands/map.command.ts';
import { NestedAllocCommand } from '../commands/nested-alloc.command.ts';
import { OpenCommand } from '../commands/open.command.ts';
import { PrefillCommand } from '../commands/prefill.command.ts';
import { ReplaceCommand } from '../commands/replace.command.ts';
import { SettleCommand } from '../commands/settle.command.ts';
import { UnbindCommand } from '../commands/unbind.command.ts';
import { UnmapCommand } from '../commands/unmap.command.ts';
import type { Invariant } from '../invariants/invariant.ts';
import type { Model } from '../model/model.ts';
import { buildWorld, type Fixture, prepareWorld } from '../world/build.ts';
import type { World } from '../world/world.ts';
import { teardown } from './scenario.ts';

/** Every command class by the `ScriptWorld` method (verb) that replays it. */
export const COMMANDS = {
  ioasAlloc: IoasAllocCommand,
  destroy: DestroyCommand,
  hwptAlloc: HwptAllocCommand,
  nestedAlloc: NestedAllocCommand,
  invalidate: InvalidateCommand,
  map: MapCommand,
  unmap: UnmapCommand,
  copy: CopyCommand,
  bind: BindCommand,
  unbind: UnbindCommand,
  attach: AttachCommand,
  replace: ReplaceCommand,
  detach: DetachCommand,
  dma: DmaCommand,
  deliver: DeliverCommand,
  settle: SettleCommand,
  open: OpenCommand,
  close: CloseCommand,
  prefill: PrefillCommand,
  dirty: DirtyCommand,
  access: AccessCommand,
} as const;

type Verbs = {
  [K in keyof typeof COMMANDS]: (args: ConstructorParameters<(typeof COMMANDS)[K]>[0]) => Promise<void>;
};

export interface ScriptWorldOptions {
  readonly topology: TopologySpec;
  readonly plan?: readonly number[];
  readonly faults?: readonly FaultName[];
  readonly invariants?: readonly Invariant[];
  readonly fixture?: Fixture;
}

/**
 * Replays the positional scripts that commands print (`await w.map({ ... })`): the same world,
 * model and invariant checks as a property run, one method per command.
 * @example
 * const w = await ScriptWorld.create({ topology, invariants: [isolation] });
 * await w.unmap({ ioas: 0, range: { kind: 'all' }, probe: 'after' });
 * await w.teardown();
 */
export class ScriptWorld {
  private constructor(
    readonly world: World,
    readonly model: Model,
  ) {}

  static async create(opts: ScriptWorldOptions): Promise<ScriptWorld & Verbs> {
    const { world, model } = buildWorld(opts.topology, {
      plan: opts.plan ?? [],
      faults: opts.faults ?? [],
      invariants: opts.invariants ?? [],
    });
    await prepareWorld(world, model, opts.fixture);
    return new ScriptWorld(world, model) as ScriptWorld & Verbs;
  }

  /** Runs a command as fast-check would: skipped when its `check` fails. */
  async run(cmd: PropCommand): Promise<boolean> {
    if (!cmd.check(this.model)) return false;
    await cmd.run(this.model, this.world);
    return true;
  }

  /** The end of every property run: everything in flight lands, every ctx closes. */
  teardown(): Promise<void> {
    return teardown(this.world);
  }
}

for (const [verb, Ctor] of Object.entries(COMMANDS)) {
  Object.defineProperty(ScriptWorld.prototype, verb, {
    value(this: ScriptWorld, args: never) {
      return this.run(new (Ctor as new (a: never) => PropCommand)(args)).then(() => undefined);
    },
  });
}
