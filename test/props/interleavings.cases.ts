import { describe, expect, test } from 'vitest';
import { availableVendors } from '../../index.ts';
import {
  checkProperty,
  failureOf,
  INVARIANTS,
  isolation,
  noStale,
  PropertyFailure,
  ScriptWorld,
  type TopologySpec,
} from '../../props/index.ts';
import { PASS_LIMIT_MS, RUNS, SEED, TWIN_RUNS } from './seed.ts';
import { explain } from './suite.ts';

const dev = (name: string, group: string) => ({
  name,
  iommu: 'iommu0',
  group,
  pasidBits: 0,
  ats: false,
  pri: false,
});

/** One mock IOMMU, two devices in separate groups, two processes (the fixture binds one device each). */
const topology: TopologySpec = {
  seed: 3,
  hosts: [
    {
      name: 'h0',
      iommus: [{ name: 'iommu0', vendor: 'mock' }],
      devices: [dev('d0', 'g0'), dev('d1', 'g1')],
      processes: [
        { name: 'p0', uid: 1000 },
        { name: 'p1', uid: 1000 },
      ],
    },
  ],
};

const unmapAll = { ioas: 0, range: { kind: 'all' as const }, probe: 'none' as const };
const inFlightRead = (d: number) =>
  ({
    dev: d,
    pasid: null,
    op: 'read',
    target: { kind: 'area', pos: 0, edge: 'start', delta: 0n },
    length: 64,
    wait: false,
  }) as const;

describe(`interleavings (seed ${SEED})`, () => {
  test('a DMA in flight across IOAS_UNMAP translates when delivered: it faults', async () => {
    const w = await ScriptWorld.create({ topology, invariants: [isolation, noStale] });
    await w.dma(inFlightRead(0));
    expect(w.world.inflight.size).toBe(1);
    await w.unmap(unmapAll);
    await w.deliver({ pick: 0 });
    const d = w.world.steps.flatMap((s) => s.dmas);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ ok: false, verdict: 'ok' });
    await w.teardown();
  });

  test('the same interleaving with the IOPTEs left behind is a stale translation', async () => {
    const w = await ScriptWorld.create({ topology, invariants: [noStale], faults: ['skipPteClear'] });
    await w.dma(inFlightRead(0));
    await w.unmap(unmapAll);
    const err = await w.deliver({ pick: 0 }).catch((e: unknown) => e);
    expect(PropertyFailure.is(err) && err.violation.invariant).toBe('no-stale');
  });

  test('the fabric delivers in the order the pick chooses', async () => {
    const order = async (pick: number) => {
      const w = await ScriptWorld.create({ topology, invariants: [isolation] });
      await w.dma(inFlightRead(0));
      await w.dma(inFlightRead(1));
      await w.deliver({ pick });
      const first = w.world.steps.flatMap((s) => s.dmas)[0]!.device;
      await w.teardown();
      return first;
    };
    expect(await order(0)).toBe('d0');
    expect(await order(1)).toBe('d1');
  });

  // Commands weighted towards DMA left in flight, deliveries, unmaps and attachment changes.
  const weights = { dma: 12, deliver: 8, unmap: 6, replace: 4, detach: 2, attach: 4, map: 6, settle: 1 };

  for (const vendor of availableVendors()) {
    test(`concurrent DMA, unmap, replace and detach keep isolation on ${vendor}`, {
      timeout: 120_000,
    }, async () => {
      const r = await checkProperty({
        invariants: [INVARIANTS.isolation, INVARIANTS['no-stale']],
        vendors: [vendor],
        numRuns: RUNS,
        seed: SEED,
        commands: { weights },
        timeLimitMs: PASS_LIMIT_MS,
      });
      expect(r.failed, explain(r)).toBe(false);
    });
  }

  test('a stale translation under concurrency shrinks to a short script', { timeout: 120_000 }, async () => {
    const r = await checkProperty({
      invariants: [INVARIANTS['no-stale']],
      vendors: ['mock'],
      faults: ['skipPteClear'],
      numRuns: TWIN_RUNS,
      seed: SEED,
      commands: { weights },
    });
    expect(failureOf(r)?.violation.invariant, explain(r)).toBe('no-stale');
    expect(r.counterexample!.commands.length).toBeLessThanOrEqual(10);
  });
});
