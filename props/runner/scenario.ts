import fc from 'fast-check';
import type { FaultName } from '../../actors/runtime/faults.ts';
import type { TopologySpec } from '../arbitraries/topology.ts';
import { closeCtx } from '../commands/close.command.ts';
import type { PropCommand } from '../commands/command.ts';
import type { Invariant } from '../invariants/invariant.ts';
import { buildWorld, type Fixture, prepareWorld } from '../world/build.ts';
import { type FailNthCampaign, failNthInjector } from '../world/fail-nth-campaign.ts';
import type { World } from '../world/world.ts';
import type { Coverage } from './coverage.ts';

/** One generated case: a topology, the commands, and the fabric's delivery choices. */
export interface Scenario {
  readonly topology: TopologySpec;
  readonly commands: Iterable<PropCommand>;
  readonly plan: readonly number[];
}

export interface ScenarioOptions {
  readonly invariants: readonly Invariant[];
  /** @defaultValue 'mapped' */
  readonly fixture?: Fixture;
  readonly faults?: readonly FaultName[];
  /** Counts reached paths and command outcomes. */
  readonly coverage?: Coverage;
  /** Called with the world once it is built (the caller keeps it for the transcript). */
  readonly onWorld?: (world: World) => void;
  /** Random fail-nth on the commands' calls (not the fixture's, not the teardown's). */
  readonly failNth?: FailNthCampaign;
}

/**
 * Runs a scenario on a fresh farm: the commands (fc.asyncModelRun), then a teardown step that
 * lets everything in flight land and closes every ctx. Throws a PropertyFailure at the first
 * broken invariant.
 */
export async function runScenario(s: Scenario, opts: ScenarioOptions): Promise<World> {
  let world: World | undefined;
  const setup = async () => {
    const built = buildWorld(s.topology, {
      plan: s.plan,
      faults: opts.faults ?? [],
      invariants: opts.invariants,
      ...(opts.coverage ? { coverage: opts.coverage } : {}),
    });
    world = built.world;
    opts.onWorld?.(world);
    await prepareWorld(built.world, built.model, opts.fixture);
    if (opts.failNth) built.world.injectNth = failNthInjector(s.topology.seed, opts.failNth);
    return { model: built.model, real: built.world };
  };
  await fc.asyncModelRun(setup, s.commands);
  await teardown(world!);
  return world!;
}

/** The end of every run: everything in flight lands, then every ctx closes (all checked). */
export async function teardown(w: World): Promise<void> {
  w.injectNth = undefined;
  await w.step('await w.teardown();', async () => {
    if (w.farm.scheduler.busy) await w.settleAll();
    for (const key of [...w.model.ctxs.keys()]) await closeCtx(w.model, w, key);
  });
}
