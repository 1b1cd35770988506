import fc from 'fast-check';
import type { FaultName } from '../../actors/runtime/faults.ts';
import type { VendorName } from '../../vendors/driver.ts';
import { deliveryPlanArb } from '../arbitraries/delivery-plan.ts';
import { type TopologyConstraints, type TopologySpec, topologyArb } from '../arbitraries/topology.ts';
import type { PropCommand } from '../commands/command.ts';
import { type CommandConstraints, commandArb } from '../commands/index.ts';
import type { Invariant } from '../invariants/invariant.ts';
import type { Model } from '../model/model.ts';
import type { Fixture } from '../world/build.ts';
import type { FailNthCampaign } from '../world/fail-nth-campaign.ts';
import type { World } from '../world/world.ts';
import type { Coverage } from './coverage.ts';
import { runScenario } from './scenario.ts';

export interface PropertyOptions {
  /** Checked after every step, in order; the first broken one fails the run. */
  readonly invariants: readonly Invariant[];
  /** Vendors the topology's IOMMUs are drawn from. */
  readonly vendors: readonly VendorName[];
  /** Broken-twin switches to turn on in every run. */
  readonly faults?: readonly FaultName[];
  /** @defaultValue 40 */
  readonly maxCommands?: number;
  readonly topology?: Omit<TopologyConstraints, 'vendors'>;
  /** What each run starts from. @defaultValue 'mapped' */
  readonly fixture?: Fixture;
  /** fast-check's record of which commands ran, needed with `path` to replay a shrunk case. */
  readonly replayPath?: string;
  /** Called after every run (generation and shrinking alike), e.g. to drive a progress bar. */
  readonly onRun?: () => void;
  readonly commands?: CommandConstraints;
  /** Counts reached paths and command outcomes of every run. */
  readonly coverage?: Coverage;
  /** Random fail-nth inside the runs (see `FailNthCampaign`). */
  readonly failNth?: FailNthCampaign;
}

export type PropertyArgs = [TopologySpec, Iterable<fc.AsyncCommand<Model, World>>, number[]];

/**
 * The model-based property: a generated topology, a command sequence and delivery choices, run
 * on a fresh seeded farm with the invariants checked after every step.
 */
export function modelProperty(opts: PropertyOptions): fc.IAsyncPropertyWithHooks<PropertyArgs> {
  const { maxCommands = 40 } = opts;
  return fc.asyncProperty(
    topologyArb({ ...opts.topology, vendors: opts.vendors }),
    fc.commands([commandArb(opts.commands)], {
      size: 'max',
      maxCommands,
      ...(opts.replayPath === undefined ? {} : { replayPath: opts.replayPath }),
    }),
    deliveryPlanArb(),
    async (topology, commands, plan) => {
      try {
        await runScenario(
          { topology, commands: commands as Iterable<PropCommand>, plan },
          {
            invariants: opts.invariants,
            faults: opts.faults ?? [],
            ...(opts.fixture ? { fixture: opts.fixture } : {}),
            ...(opts.coverage ? { coverage: opts.coverage } : {}),
            ...(opts.failNth ? { failNth: opts.failNth } : {}),
          },
        );
      } finally {
        opts.onRun?.();
      }
    },
  );
}
