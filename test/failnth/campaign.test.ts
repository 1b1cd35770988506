/**
 * Random fail-nth inside model runs: commands run with an injection armed on some calls (drawn
 * from the case's seed), and errno atomicity judges every unwind. The injections really happen,
 * each failing call reports the injected errno, and nothing is left half-done.
 */
import fc from 'fast-check';
import { expect, test } from 'vitest';
import {
  commandArb,
  deliveryPlanArb,
  errnoAtomicity,
  modelAgreement,
  type PropCommand,
  runScenario,
  topologyArb,
} from '../../props/index.ts';
import type { World } from '../../props/world/world.ts';
import { VENDORS } from './harness.ts';

const SEED = process.env.FC_SEED === undefined ? 20261206 : Number(process.env.FC_SEED);

test.each(VENDORS)(
  `random fail-nth in model runs on %s (seed ${SEED})`,
  { timeout: 60_000 },
  async (vendor) => {
    const cases = fc.sample(
      fc.tuple(
        topologyArb({ vendors: [vendor] }),
        fc.commands([commandArb()], { size: 'max', maxCommands: 25 }),
        deliveryPlanArb(),
      ),
      { seed: SEED, numRuns: 6 },
    );
    let injected = 0;
    let calls = 0;
    let armLines = 0;
    for (const [topology, commands, plan] of cases) {
      let world: World | undefined;
      await runScenario(
        { topology, commands: commands as Iterable<PropCommand>, plan },
        {
          invariants: [errnoAtomicity, modelAgreement],
          failNth: { rate: 0.5, maxN: 6 },
          onWorld: (w) => {
            world = w;
          },
        },
      );
      for (const step of world!.steps) {
        for (const c of step.calls) {
          calls++;
          if (c.injected !== undefined) injected++;
        }
      }
      // The transcript replays the injections.
      armLines += world!.steps
        .flatMap((s) => s.lines)
        .filter((l) => l.startsWith('farm.failNth.arm(')).length;
    }
    expect(armLines).toBeGreaterThan(0);
    expect(calls).toBeGreaterThan(10);
    expect(injected).toBeGreaterThan(0);
  },
);
