import { createFarm } from '../../actors/farm.ts';
import type { Host } from '../../actors/host.ts';
import { IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE } from '../../actors/iommufd/uapi-iommufd.ts';
import type { Process } from '../../actors/process.ts';
import type { FaultName } from '../../actors/runtime/faults.ts';
import type { TopologySpec } from '../arbitraries/topology.ts';
import { AttachCommand } from '../commands/attach.command.ts';
import { BindCommand } from '../commands/bind.command.ts';
import { MapCommand } from '../commands/map.command.ts';
import { boundDevices, ioasTargets, unboundDevicesNear } from '../commands/pick.ts';
import type { Invariant } from '../invariants/invariant.ts';
import { groupOwners } from '../model/graph.ts';
import { initialModel, type Model, openCtx } from '../model/model.ts';
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
    const host = farm.addHost({ name: h.name });
    hosts.push(host);
    header.push(`const h${hi} = farm.addHost({ name: ${lit(h.name)} });`);
    for (const i of h.iommus) {
      host.addIommu({ name: i.name, vendor: i.vendor });
      header.push(`h${hi}.addIommu(${lit(i)});`);
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
 */
export type Fixture = 'empty' | 'ioas' | 'attached' | 'mapped';

export const FIXTURES: readonly Fixture[] = ['empty', 'ioas', 'attached', 'mapped'];

export async function prepareWorld(world: World, model: Model, fixture: Fixture = 'mapped'): Promise<void> {
  const level = FIXTURES.indexOf(fixture);
  if (level < 1) return;
  for (const ctx of model.ctxs.values()) {
    const r = await world.ioctl(ctx.key, 'IOMMU_IOAS_ALLOC', {});
    if (!r.ok) throw new Error(`fixture: IOMMU_IOAS_ALLOC failed with ${r.errno}`);
    ctx.ioas.push({ id: Number(r.out.out_ioas_id), areas: [] });
  }
  if (level < 2) return;
  for (const ctx of [...model.ctxs.values()]) {
    const host = model.procs[ctx.proc]!.host;
    const dev = model.devices.find(
      (d) => d.host === host && d.bound === undefined && groupOwners(model, d.group).size === 0,
    );
    if (!dev) continue;
    await new BindCommand({ proc: ctx.proc, dev: unboundDevicesNear(model, ctx.proc).indexOf(dev) }).exec(
      model,
      world,
    );
    if (dev.bound === undefined) throw new Error(`fixture: binding ${dev.name} failed`);
    const pos = boundDevices(model)
      .filter((d) => model.ctxs.get(d.bound!)!.ioas.length > 0)
      .indexOf(dev);
    await new AttachCommand({ dev: pos, target: { kind: 'ioas', pos: 0 }, pasid: null }).exec(model, world);
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
