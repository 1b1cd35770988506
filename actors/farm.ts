import type { Observable } from 'rxjs';
import { type Actor, type AnyActorRef, createActor } from 'xstate';
import { farmMachine } from '../machines/farm.machine.ts';
import { Host, type HostOptions } from './host.ts';
import { captureTopology } from './inspect/topology/capture.ts';
import type { Topology } from './inspect/topology/schema.ts';
import { fail } from './iommufd/errno.ts';
import { checkFarmOptions, checkHostOptions } from './options/entry-options.ts';
import { SimClock } from './runtime/clock.ts';
import { FailNth } from './runtime/fail-nth.ts';
import { type FaultSwitches, noFaults } from './runtime/faults.ts';
import { Rng } from './runtime/rng.ts';
import { Scheduler } from './runtime/scheduler.ts';
import { type FarmEvent, Tracer } from './runtime/trace.ts';
import { xstateClock } from './xstate-clock.ts';

/** Options of {@link createFarm}. */
export interface FarmOptions {
  /** Every random choice (fabric delivery order, vendor jitter) derives from it: an integer in 0..2^32-1. Default 0. */
  seed?: number;
  /** false: nothing moves until `farm.step()`/`farm.settle()`; for tests that drive interleavings. */
  autoRun?: boolean;
}

/** One running actor, for inspection. */
export interface ActorInfo {
  readonly id: string;
  readonly machine: string;
  readonly state: unknown;
}

/**
 * A farm: hosts with IOMMUs, devices and processes, one virtual clock, one seeded PRNG, one
 * message fabric. Same seed and same calls give the same trace.
 */
export class Farm {
  readonly seed: number;
  readonly clock = new SimClock();
  readonly rng: Rng;
  readonly tracer = new Tracer();
  /** Broken-twin switches for property tests; all off unless a test turns one on. */
  readonly faults: FaultSwitches = noFaults();
  /** fail_nth: makes the n-th allocation, pin, usercopy, driver op or table allocation fail. */
  readonly failNth = new FailNth();
  readonly scheduler: Scheduler;
  /** Every actor transition, ioctl, DMA, command, fault and interrupt; free when unobserved. */
  readonly events$: Observable<FarmEvent>;
  /** @internal The root XState actor; published types leave XState's declarations out. */
  readonly root: Actor<typeof farmMachine>;
  readonly #hosts = new Map<string, Host>();

  constructor(opts: FarmOptions = {}) {
    checkFarmOptions(opts);
    this.seed = opts.seed ?? 0;
    this.rng = new Rng(this.seed);
    this.scheduler = new Scheduler(this.clock, this.rng, this.tracer, { auto: opts.autoRun ?? true });
    this.events$ = this.tracer.events$;
    // A fixed id: XState's default (x:N) counts actors process-wide, which would make traces differ.
    this.root = createActor(farmMachine, {
      id: 'farm',
      clock: xstateClock(this.scheduler),
      inspect: (ev) => {
        if (ev.type !== '@xstate.snapshot' || !this.tracer.on) return;
        const ref = ev.actorRef as AnyActorRef;
        const snap = ev.snapshot as { value?: unknown };
        this.tracer.emit({
          type: 'actor.transition',
          t: this.clock.now,
          actor: (ref as { systemId?: string }).systemId ?? ref.id,
          machine: (ref.src as { id?: string }).id ?? String(ref.src),
          state: snap.value,
          event: ev.event.type,
        });
      },
    });
    this.root.start();
  }

  /** Virtual time in nanoseconds. */
  get now(): number {
    return this.clock.now;
  }

  /** Adds a host (its memory, IOMMU core and, with `selftest`, the mock IOMMU). */
  addHost(opts: HostOptions): Host {
    checkHostOptions(opts);
    if (this.#hosts.has(opts.name)) fail('EEXIST', `host ${opts.name} exists`);
    this.root.send({ type: 'ADD_HOST', id: opts.name, name: opts.name });
    const actor = this.root.system.get(opts.name) as AnyActorRef;
    const host = new Host(this, actor, opts);
    this.#hosts.set(opts.name, host);
    return host;
  }

  /** The host called `name`; an `IommufdError` ENODEV if there is none. */
  host(name: string): Host {
    const host = this.#hosts.get(name);
    if (!host) fail('ENODEV', `no host ${name}`);
    return host;
  }

  /** Every host, in the order they were added. */
  hosts(): Host[] {
    return [...this.#hosts.values()];
  }

  /** Every registered actor with its machine and current state. */
  actors(): ActorInfo[] {
    const all = this.root.system.getAll() as Record<string, AnyActorRef>;
    return Object.entries(all)
      .map(([id, ref]) => ({
        id,
        machine: (ref.src as { id?: string }).id ?? String(ref.src),
        state: (ref.getSnapshot() as { value?: unknown }).value,
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** This farm as a topology model: `loadTopology(farm.toTopology())` builds an equivalent farm. */
  toTopology(): Topology {
    return captureTopology(this);
  }

  /** Runs the scheduler until nothing is pending. */
  settle(): Promise<void> {
    return this.scheduler.settle();
  }

  /** One scheduling step (manual mode): false when idle. */
  step(): boolean {
    return this.scheduler.step();
  }
}

/** Builds a farm. `createFarm({ seed: 42 })`: the same seed replays the same trace. */
export function createFarm(opts: FarmOptions = {}): Farm {
  return new Farm(opts);
}
