import { fc } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { IOMMU_HWPT_ALLOC_NEST_PARENT } from '../../index.ts';
import { commandArbs, INVARIANTS, MapCommand, ScriptWorld, type TopologySpec } from '../../props/index.ts';

// Seed 4: the fixture attaches through an auto-domain (see prepareWorld).
const topology: TopologySpec = {
  seed: 4,
  hosts: [
    {
      name: 'h0',
      iommus: [{ name: 'iommu0', vendor: 'mock' }],
      devices: [{ name: 'd0', iommu: 'iommu0', group: 'g0', pasidBits: 20, ats: false, pri: false }],
      processes: [{ name: 'p0', uid: 1000 }],
    },
  ],
};
const all = Object.values(INVARIANTS);
const calls = (w: ScriptWorld) =>
  w.world.steps.flatMap((s) => s.calls.map((c) => `${c.label} ${c.ok ? 'ok' : c.errno}`));
const dmas = (w: ScriptWorld) =>
  w.world.steps.flatMap((s) => s.dmas.map((d) => `${d.ok ? 'ok' : 'fault'} ${d.verdict}`));

describe('commands', () => {
  test('a nested HWPT translates through its parent, and its caches can be invalidated', async () => {
    const w = await ScriptWorld.create({ topology, invariants: all });
    await w.hwptAlloc({ proc: 0, ioas: 0, dev: 0, flags: IOMMU_HWPT_ALLOC_NEST_PARENT });
    await w.nestedAlloc({ proc: 0, parent: 0, dev: 0 });
    // HWPTs are named newest first: 0 is the nested one.
    await w.replace({ attachment: 0, target: { kind: 'hwpt', pos: 0 } });
    await w.dma({
      dev: 0,
      pasid: null,
      op: 'read',
      target: { kind: 'area', pos: 0, edge: 'start', delta: 0n },
      length: 64,
      wait: true,
    });
    await w.invalidate({ proc: 0, hwpt: 0, kind: 0 });
    await w.invalidate({ proc: 0, hwpt: 0, kind: 2 });
    await w.destroy({ proc: 0, pos: 2 });
    await w.teardown();
    expect(calls(w)).toEqual([
      'IOMMU_IOAS_ALLOC ok',
      'VFIO_DEVICE_BIND_IOMMUFD ok',
      'VFIO_DEVICE_ATTACH_IOMMUFD_PT ok',
      'IOMMU_IOAS_MAP ok',
      'IOMMU_HWPT_ALLOC ok',
      'IOMMU_HWPT_ALLOC ok',
      'VFIO_DEVICE_ATTACH_IOMMUFD_PT ok',
      'IOMMU_HWPT_INVALIDATE ok',
      'IOMMU_HWPT_INVALIDATE EINVAL',
      'IOMMU_DESTROY EBUSY',
      'close ok',
      'close ok',
    ]);
    expect(dmas(w)).toEqual(['ok ok']);
  });

  test('targets are picked by position among live handles, so a command stays valid after shrinking', async () => {
    const w = await ScriptWorld.create({ topology, invariants: all, fixture: 'ioas' });
    // No device is bound yet: commands that need one are skipped, as fast-check skips them.
    expect(
      await w.run(
        new MapCommand({ ioas: 7, offset: 0n, bogus: false, length: 0x1000n, iova: null, flags: 6 }),
      ),
    ).toBe(true);
    await w.attach({ dev: 3, target: { kind: 'ioas', pos: 0 }, pasid: null });
    await w.bind({ proc: 5, dev: 9 });
    await w.teardown();
    expect(calls(w)).toEqual([
      'IOMMU_IOAS_ALLOC ok',
      'IOMMU_IOAS_MAP ok',
      'VFIO_DEVICE_BIND_IOMMUFD ok',
      'close ok',
      'close ok',
    ]);
  });

  test('every command prints one line of a runnable script', () => {
    for (const arb of Object.values(commandArbs())) {
      for (const cmd of fc.sample(arb, { numRuns: 20, seed: 2 })) {
        const line = cmd.toString();
        expect(line).toMatch(/^await w\.\w+\(.*\);$/);
        expect(line).not.toContain('\n');
        // The line is valid TypeScript (bigints as 0x…n literals, bare keys).
        expect(() => new Function('w', `return (async () => { ${line} })`)).not.toThrow();
      }
    }
  });
});
