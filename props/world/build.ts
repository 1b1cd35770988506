import { createFarm } from '../../actors/farm.ts';
import type { Host } from '../../actors/host.ts';
import {
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
} from '../../actors/iommufd/uapi-iommufd.ts';
import type { Process } from '../../actors/process.ts';
import type { FaultName } from '../../actors/runtime/faults.ts';
import type { TopologySpec } from '../arbitraries/topology.ts';
import { AttachCommand } from '../commands/attach.command.ts';
import { BindCommand } from '../commands/bind.command.ts';
import { changePt, type PtTarget } from '../commands/change-pt.ts';
import { HwptAllocCommand } from '../commands/hwpt-alloc.command.ts';
import { MapCommand } from '../commands/map.command.ts';
import { boundDevices, ioasTargets, unboundDevicesNear } from '../commands/pick.ts';
import type { Invariant } from '../invariants/invariant.ts';
import { groupOwners } from '../model/graph.ts';
import { initialModel, type Model, openCtx } from '../model/model.ts';
import type { Coverage } from '../runner/coverage.ts';
import { lit } from './code.ts';
import { planPolicy } from './drive.ts';
import { BUFFER_BYTES, fillBuffer } from './tags.ts';
import { World } from './world.ts';

export interface WorldOptions {
  /** Fabric delivery choices (see `planPolicy`). */
  readonly plan?: readonly number[];
  /** Broken-twin switches to turn on. */
  readonly faults?: readonly FaultName[];
  readonly invariants?: readonly Invariant[];
  /** Counts reached paths and command outcomes (turns the farm's tracer on for queue commands). */
  readonly coverage?: Coverage;
}

/**
 * Builds the farm of a topology, every process with its tagged buffer and one open iommufd,
 * and the matching model. The setup is written to the transcript as code.
 */
export function buildWorld(topology: TopologySpec, opts: WorldOptions = {}): { world: World; model: Model } {
  const plan = opts.plan ?? [];
  const farm = createFarm({ seed: topology.seed, autoRun: false });
  farm.scheduler.fabric.policy = planPolicy(plan);
  // The world drives this farm between commands, and its DMAs may stay in flight across them.
  farm.scheduler.hold();
  for (const f of opts.faults ?? []) farm.faults[f] = true;
  const model = initialModel(topology);
  const hosts: Host[] = [];
  const procs: Process[] = [];
  const header: string[] = [
    `const farm = createFarm({ seed: ${topology.seed}, autoRun: false });`,
    `farm.scheduler.fabric.policy = planPolicy(${lit([...plan])});`,
    ...(opts.faults ?? []).map((f) => `farm.faults.${f} = true; // broken twin`),
  ];
  topology.hosts.forEach((h, hi) => {
    // Selftest hosts: IOMMU_TEST_CMD gives the in-kernel access commands (the extra `mock` IOMMU
    // they bring has no devices here).
    const host = farm.addHost({ name: h.name, selftest: true });
    hosts.push(host);
    header.push(`const h${hi} = farm.addHost({ name: ${lit(h.name)}, selftest: true });`);
    for (const i of h.iommus) {
      const opts = { name: i.name, vendor: i.vendor, ...i.options };
      host.addIommu(opts);
      header.push(`h${hi}.addIommu(${lit(opts)});`);
    }
    for (const d of h.devices) {
      host.addDevice(d);
      header.push(`h${hi}.addDevice(${lit(d)});`);
    }
    for (const p of h.processes) {
      const limit = p.memlockPages === undefined ? undefined : BigInt(p.memlockPages) * 4096n;
      const proc = host.spawnProcess({
        name: p.name,
        uid: p.uid,
        ...(limit === undefined ? {} : { memlockLimit: limit }),
      });
      const index = procs.length;
      procs.push(proc);
      fillBuffer(proc, index);
      header.push(
        `const ${p.name} = h${hi}.spawnProcess(${lit({ name: p.name, uid: p.uid, memlockLimit: limit })});`,
        `fillBuffer(${p.name}, ${index});`,
      );
    }
  });
  const world = new World(farm, hosts, procs, model, opts.invariants ?? []);
  world.snapshotCalls =
    opts.invariants === undefined ||
    opts.invariants.some((i) => i.name === 'errno-atomicity' || i.name === 'object-graph');
  world.header.push(...header);
  if (opts.coverage) {
    world.coverage = opts.coverage;
    opts.coverage.runs++;
    farm.events$.subscribe((e) => {
      if (e.type === 'cmd') world.noteCommand(e.queue.split('/')[0]!, e.opcode);
    });
  }
  procs.forEach((proc, i) => {
    const ctx = openCtx(model, i);
    world.fds.set(ctx.key, proc.openIommufd());
    world.ctxProc.set(ctx.key, i);
    world.header.push(`let fd${i} = p${i}.openIommufd();`);
    world.declare(`fd${i}`);
  });
  return { world, model };
}

/**
 * What every run starts from (so short command sequences reach DMA, and shrunk counterexamples
 * stay short): `ioas` gives each process's iommufd one IOAS; `attached` also binds one device per
 * process (the next whose group no other process owns) and attaches it to that IOAS; `mapped`
 * also maps the first half of the process's buffer there.
 *
 * How `attached` attaches varies with the topology's seed, so every path starts one step away:
 * through an auto-domain, or an explicit HWPT allocated PASID-capable (a PASID attach then
 * succeeds), as a nest parent (nested HWPTs go on it) or for dirty tracking; and every other seed
 * binds and attaches the whole group, not just one of its devices (on a host with one process).
 */
export type Fixture = 'empty' | 'ioas' | 'attached' | 'mapped';

export const FIXTURES: readonly Fixture[] = ['empty', 'ioas', 'attached', 'mapped'];

/** HWPT_ALLOC flags to try in turn for the fixture's domain (none left: attach to the IOAS). */
const DOMAIN_FLAGS: ReadonlyArray<readonly number[]> = [
  [],
  [IOMMU_HWPT_ALLOC_PASID],
  [IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID, IOMMU_HWPT_ALLOC_NEST_PARENT],
  [
    IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID,
    IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
    IOMMU_HWPT_ALLOC_PASID,
  ],
];

export async function prepareWorld(world: World, model: Model, fixture: Fixture = 'mapped'): Promise<void> {
  const level = FIXTURES.indexOf(fixture);
  if (level < 1) return;
  for (const ctx of model.ctxs.values()) {
    const r = await world.ioctl(ctx.key, 'IOMMU_IOAS_ALLOC', {});
    if (!r.ok) throw new Error(`fixture: IOMMU_IOAS_ALLOC failed with ${r.errno}`);
    ctx.ioas.push({ id: Number(r.out.out_ioas_id), areas: [] });
  }
  if (level < 2) return;
  const seed = model.topology.seed;
  const flagsToTry = DOMAIN_FLAGS[seed % DOMAIN_FLAGS.length]!;
  const wholeGroup = Math.floor(seed / DOMAIN_FLAGS.length) % 2 === 1;
  for (const ctx of [...model.ctxs.values()]) {
    const host = model.procs[ctx.proc]!.host;
    const dev = model.devices.find(
      (d) => d.host === host && d.bound === undefined && groupOwners(model, d.group).size === 0,
    );
    if (!dev) continue;
    // The whole group only where no other process of the host could bind into it: a second
    // ctx taking a device of an owned group is what the group-ownership twins need.
    const alone = model.procs.filter((p) => p.host === host).length === 1;
    const members =
      wholeGroup && alone ? model.groups.get(dev.group)!.devices.map((i) => model.devices[i]!) : [dev];
    for (const d of members) {
      await new BindCommand({ proc: ctx.proc, dev: unboundDevicesNear(model, ctx.proc).indexOf(d) }).exec(
        model,
        world,
      );
    }
    if (dev.bound === undefined) throw new Error(`fixture: binding ${dev.name} failed`);
    let target: PtTarget = { kind: 'ioas', pos: 0 };
    for (const flags of flagsToTry) {
      const devPos = [...ctx.devices.keys()].indexOf(dev.index);
      const before = ctx.hwpts.length;
      await new HwptAllocCommand({ proc: ctx.proc, ioas: 0, dev: devPos, flags }).exec(model, world);
      if (ctx.hwpts.length > before) {
        target = { kind: 'hwpt', pos: before };
        break;
      }
    }
    for (const d of members) {
      if (d.bound !== ctx.key) continue;
      const pos = boundDevices(model)
        .filter((b) => model.ctxs.get(b.bound!)!.ioas.length > 0)
        .indexOf(d);
      await new AttachCommand({ dev: pos, target, pasid: null }).exec(model, world);
    }
    // On a PASID-capable HWPT, PASID 1 of the device joins it too: PASID-tagged DMA from step 1.
    const hwpt = target.kind === 'hwpt' ? ctx.hwpts[target.pos] : undefined;
    if (hwpt?.pasidCompat && dev.pasid && wholeGroup === (seed % 3 === 0)) {
      await changePt(model, world, dev.index, target, 1);
    }
  }
  if (level < 3) return;
  for (const ctx of [...model.ctxs.values()]) {
    const ioas = ioasTargets(model).findIndex((t) => t.ctx === ctx);
    const length = BigInt(BUFFER_BYTES / 2);
    await new MapCommand({ ioas, offset: 0n, bogus: false, length, iova: null, flags: RW }).exec(
      model,
      world,
    );
  }
}

const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
