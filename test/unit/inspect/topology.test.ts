import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { loadTopology } from '../../../actors/inspect/topology/build.ts';
import { topologyToJson, topologyToYaml } from '../../../actors/inspect/topology/data.ts';
import { parseTopology, TopologyError } from '../../../actors/inspect/topology/parse.ts';
import { runScenario } from '../../../actors/inspect/topology/scenario.ts';
import type { Step } from '../../../actors/inspect/topology/schema.ts';
import { traceHash } from '../../../actors/inspect/trace/hash.ts';
import { encodeEvent } from '../../../actors/inspect/trace/trace-file.ts';
import { createFarm, type Farm, type FarmEvent } from '../../../index.ts';

const DIR = new URL('../../../topologies/', import.meta.url);
const examples = readdirSync(DIR).filter((f) => f.endsWith('.yaml') || f.endsWith('.json'));

/** Every event of a run, as text (bigints spelled out): equal runs give equal strings. */
async function runTrace(make: (onCreate: (f: Farm) => void) => Farm, steps: readonly Step[]) {
  const events: FarmEvent[] = [];
  const farm = make((f) => f.events$.subscribe((e) => events.push(e)));
  const outcomes = await runScenario(farm, steps);
  const text = JSON.stringify(events, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
  return { farm, outcomes, text, events, hash: traceHash(events.map(encodeEvent)) };
}

function errorOf(text: string, file = 'bad.yaml'): TopologyError {
  try {
    parseTopology(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(TopologyError);
    return err as TopologyError;
  }
  throw new Error('parsed');
}

describe('example topologies', () => {
  test('one per vendor and a mixed farm are shipped', () => {
    for (const f of ['mock.yaml', 'intel-vtd.yaml', 'arm-smmuv3.yaml', 'amd-vi.yaml', 'mixed.yaml']) {
      expect(examples).toContain(f);
    }
  });

  test.each(examples)('%s loads and its scenario meets every expectation', async (file) => {
    const text = readFileSync(new URL(file, DIR), 'utf8');
    const topology = parseTopology(text, file);
    const { farm, outcomes, events } = await runTrace(
      (onCreate) => loadTopology(text, { file, onCreate }),
      topology.scenario ?? [],
    );
    expect(outcomes.length).toBe(topology.scenario?.length);
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    expect(events.some((e) => e.type === 'dma' && e.ok)).toBe(true);
    expect(events.some((e) => e.type === 'dma' && !e.ok)).toBe(true);
    const vendors = new Set(topology.hosts.flatMap((h) => h.iommus.map((i) => i.vendor)));
    for (const host of farm.hosts())
      for (const i of host.iommus()) if (i.name !== 'mock') expect(vendors).toContain(i.vendor);
  });
});

describe('round trip through the model', () => {
  const scenario = parseTopology(readFileSync(new URL('intel-vtd.yaml', DIR), 'utf8')).scenario!;

  function builderFarm(onCreate: (f: Farm) => void): Farm {
    const farm = createFarm({ seed: 9 });
    onCreate(farm);
    const host = farm.addHost({ name: 'h0', memoryBytes: 8n << 30n });
    host.addIommu({ name: 'vtd0', vendor: 'intel-vtd', iotlbEntries: 64 });
    host.addIommu({ name: 'amd0', vendor: 'amd-vi', efr2: 0n });
    host.addDevice({ name: 'nic0', iommu: 'vtd0', bdf: '0000:01:00.0', pasidBits: 20, ats: true, pri: true });
    host.addDevice({ name: 'nic1', iommu: 'amd0', group: 'shared', kernelDriver: 'ixgbe' });
    host.spawnProcess({ name: 'vmm', memlockLimit: 1n << 30n });
    host.spawnProcess({ name: 'user', privileged: false, uid: 1001 });
    return farm;
  }

  test('loadTopology(farm.toTopology()) builds the same actors and replays the same trace', async () => {
    const a = await runTrace(builderFarm, scenario);
    const model = builderFarm(() => {}).toTopology();
    expect(model.hosts[0]!.iommus[1]).toEqual({ name: 'amd0', vendor: 'amd-vi', options: { efr2: '0x0n' } });
    const b = await runTrace((onCreate) => loadTopology(model, { onCreate }), scenario);
    expect(b.farm.actors()).toEqual(a.farm.actors());
    expect(b.farm.seed).toBe(9);
    expect(b.hash).toBe(a.hash);
    expect(b.text).toBe(a.text);
    expect(a.events.length).toBeGreaterThan(20);
  });

  test('YAML and JSON spellings parse back to the same model', () => {
    const model = builderFarm(() => {}).toTopology();
    expect(parseTopology(topologyToYaml(model))).toEqual(model);
    expect(parseTopology(topologyToJson(model))).toEqual(model);
    expect(topologyToYaml(model)).toContain('memlock: 1GiB');
  });

  test('a different seed gives a different farm seed', () => {
    const model = builderFarm(() => {}).toTopology();
    expect(loadTopology(model, { seed: 4 }).seed).toBe(4);
  });
});

describe('malformed topologies: file:line:col and what was expected', () => {
  test.each([
    [
      'an unknown key, at the key',
      'hosts:\n  - name: h0\n    iommus:\n      - { name: v, vendor: intel-vtd, nesting: true }\n',
      '4:39',
      'unknown key "nesting"',
    ],
    [
      'a value of the wrong kind',
      'hosts:\n  - name: h0\n    processes: [{ name: p, memlock: lots }]\n',
      '3:37',
      'expected a size',
    ],
    [
      'an unknown vendor',
      'hosts:\n  - name: h0\n    iommus: [{ name: i, vendor: via }]\n',
      '3:33',
      'expected one of "mock"',
    ],
    [
      'a missing field',
      'hosts:\n  - name: h0\n    devices: [{ iommu: x }]\n',
      '3:15',
      'name: missing (expected string)',
    ],
    [
      'a device on no IOMMU',
      'hosts:\n  - name: h0\n    devices:\n      - { name: n, iommu: nope }\n',
      '4:27',
      'no IOMMU "nope" on h0',
    ],
    ['YAML syntax', 'hosts: [ {name: h0 }\nscenario: [', '2:1', 'Flow sequence'],
    [
      'a dangling reference',
      'hosts:\n  - name: h0\n    processes: [{ name: p }]\nscenario:\n  - open: { process: p, as: x }\n  - ioas-alloc: { iommufd: $y, as: i }\n',
      '6:28',
      '$y is not the result of an earlier step',
    ],
    [
      'a reference of the wrong kind',
      'hosts:\n  - name: h0\n    processes: [{ name: p }]\nscenario:\n  - open: { process: p, as: x }\n  - mmap: { process: p, length: 4KiB, as: m }\n  - ioas-alloc: { iommufd: $m, as: i }\n',
      '7:28',
      '$m is a va, iommufd takes a iommufd',
    ],
    ['an unknown step', 'hosts:\n  - name: h0\nscenario:\n  - frob: {}\n', '4:5', 'unknown step "frob"'],
    [
      'an unknown process',
      'hosts:\n  - name: h0\nscenario:\n  - open: { process: ghost, as: x }\n',
      '4:22',
      'no process "ghost"',
    ],
  ])('%s', (_what, text, at, problem) => {
    const err = errorOf(text);
    expect(`${err.line}:${err.col}`).toBe(at);
    expect(err.message.startsWith(`bad.yaml:${at}: `)).toBe(true);
    expect(err.problem).toContain(problem);
    expect(err.message).not.toContain('\n');
  });

  test('JSON files report positions too', () => {
    const err = errorOf('{\n  "hosts": [\n    { "name": "h0", "selftest": "yes" }\n  ]\n}\n', 'farm.json');
    expect(err.message).toMatch(/^farm\.json:3:33: hosts\.0\.selftest: .*expected boolean/);
  });

  test('options the simulator refuses are reported at the IOMMU', () => {
    const text =
      'hosts:\n  - name: h0\n    iommus:\n      - { name: a, vendor: amd-vi, options: { hostLevels: 9 } }\n';
    expect(() => loadTopology(text, { file: 'x.yaml' })).toThrow(
      /^x\.yaml:4:9: hosts\.0\.iommus\.0: .*'hostLevels'/,
    );
  });
});

describe('scenario outcomes', () => {
  test('an expected errno passes; a step using a result that was never made fails without throwing', async () => {
    const text = `hosts:
  - name: h0
    selftest: true
    devices: [{ name: d, iommu: mock, kernelDriver: e1000 }]
    processes: [{ name: p }]
scenario:
  - open: { process: p, as: f }
  - bind: { iommufd: $f, device: d, as: x, expect: EBUSY }
  - ioas-alloc: { iommufd: $f, as: i }
  - attach: { device: $x, pt: $i }
  - settle: {}
`;
    const topology = parseTopology(text);
    const outcomes = await runScenario(loadTopology(text), topology.scenario!);
    expect(outcomes.map((o) => [o.op, o.ok])).toEqual([
      ['open', true],
      ['bind', true],
      ['ioas-alloc', true],
      ['attach', false],
    ]);
    expect(outcomes[1]!.detail).toBe('EBUSY as expected');
    expect(outcomes[3]!.detail).toContain('$x has no value');
    const all = await runScenario(loadTopology(text), topology.scenario!, { stopOnFailure: false });
    expect(all).toHaveLength(5);
  });

  test('an unexpected errno and a DMA outcome other than the expected one fail the step', async () => {
    const text = `hosts:
  - name: h0
    selftest: true
    devices: [{ name: d, iommu: mock }]
    processes: [{ name: p }]
scenario:
  - open: { process: p, as: f }
  - ioas-alloc: { iommufd: $f, as: i }
  - mmap: { process: p, length: 4KiB, as: buf }
  - map: { iommufd: $f, ioas: $i, va: $buf, length: 0, iova: 0x1000000, as: m }
  - dma: { device: d, op: read, iova: 0x1000000, length: 8, expect: ok }
`;
    const steps = parseTopology(text).scenario!;
    const outcomes = await runScenario(loadTopology(text), steps, { stopOnFailure: false });
    expect(outcomes[3]).toMatchObject({ op: 'map', ok: false });
    expect(outcomes[3]!.detail).toMatch(/^IOMMU_IOAS_MAP: EINVAL/);
    expect(outcomes[4]).toMatchObject({ op: 'dma', ok: false });
    expect(outcomes[4]!.detail).toMatch(/^fault \S+, expected ok$/);
  });
});
