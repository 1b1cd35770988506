import type { AnyActorLogic, AnyActorRef } from 'xstate';
import type { VendorName } from '../vendors/driver.ts';
import { createIommu } from '../vendors/registry.ts';
import { Device } from './device.ts';
import type { Farm } from './farm.ts';
import type { HostEnv, MockBus } from './iommufd/env.ts';
import { fail } from './iommufd/errno.ts';
import { MOCK_FLAGS_DEVICE_PASID, MOCK_PASID_WIDTH } from './iommufd/uapi-selftest.ts';
import { formatBdf, parseBdf } from './kernel/bdf.ts';
import { IommuCore, type IommuInstance, KernelDevice } from './kernel/iommu-core.ts';
import { UserAccount } from './mem/locked-vm.ts';
import { PhysMemory } from './mem/phys-memory.ts';
import { checkDeviceOptions, checkIommuOptions, checkProcessOptions } from './options/entry-options.ts';
import { Process, type ProcessOptions } from './process.ts';

/** The IOMMU instance a selftest host creates for its mock devices. */
export const MOCK_IOMMU = 'mock';

/** Options of {@link Farm.addHost}. */
export interface HostOptions {
  readonly name: string;
  /** CONFIG_IOMMUFD_TEST: the kernel mock IOMMU and IOMMU_TEST_CMD. */
  readonly selftest?: boolean;
  /** Physical memory size in bytes (default 64 GiB, populated lazily). */
  readonly memoryBytes?: bigint;
}

/** Options of {@link Host.addIommu}: a name, a vendor, and that vendor's feature options. */
export interface AddIommuOptions {
  readonly name: string;
  readonly vendor: VendorName;
  /** Vendor feature options (nesting, dirty tracking, CMDQV, queue sizes ...). */
  readonly [option: string]: unknown;
}

/** Options of {@link Host.addDevice}: a PCI function behind one of the host's IOMMUs. */
export interface AddDeviceOptions {
  readonly name: string;
  /** The IOMMU instance that translates its DMA. */
  readonly iommu: string;
  /** PCI address `dddd:bb:dd.f`; one is assigned when absent. */
  readonly bdf?: string;
  /** iommu_group name; a singleton group named after the device when absent. */
  readonly group?: string;
  readonly pasidBits?: number;
  readonly ats?: boolean;
  readonly pri?: boolean;
  /** Driver-private device flags (the mock's MOCK_FLAGS_DEVICE_*). */
  readonly flags?: number;
  /** Bound to a host kernel driver: its group cannot be claimed by iommufd (EBUSY). */
  readonly kernelDriver?: string;
  /** The group's MSIs are isolated (default true); binding without it needs allow_unsafe_interrupts. */
  readonly msiIsolated?: boolean;
}

/** One IOMMU of a host, with its mode machine. */
export interface IommuHandle extends IommuInstance {
  readonly vendor: VendorName;
  /** @internal The IOMMU's mode machine. */
  readonly actor: AnyActorRef;
  /** The vendor options it was built with, so `farm.toTopology()` can describe it. */
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * A host: physical memory, its IOMMUs and PCI devices (all actors under the host actor), the
 * kernel's IOMMU core, and the processes that open /dev/iommu.
 */
export class Host {
  readonly name: string;
  readonly selftest: boolean;
  readonly phys: PhysMemory;
  readonly core: IommuCore;
  readonly env: HostEnv;
  readonly #iommus = new Map<string, IommuHandle>();
  readonly #devices = new Map<string, Device>();
  readonly #users = new Map<number, UserAccount>();
  readonly #processes = new Map<string, Process>();
  #nextPid = 100;
  #nextCtx = 1;
  #nextBus = 1;

  /** @internal The host's machine (a plain field so that published types leave XState out). */
  readonly actor: AnyActorRef;

  /** @internal Hosts are made by `farm.addHost`. */
  constructor(
    readonly farm: Farm,
    actor: AnyActorRef,
    opts: HostOptions,
  ) {
    this.actor = actor;
    this.name = opts.name;
    this.core = new IommuCore(farm.failNth);
    this.selftest = opts.selftest ?? false;
    this.phys = new PhysMemory({
      failNth: farm.failNth,
      ...(opts.memoryBytes === undefined ? {} : { totalBytes: opts.memoryBytes }),
    });
    this.env = {
      name: this.name,
      selftest: this.selftest,
      core: this.core,
      scheduler: farm.scheduler,
      tracer: farm.tracer,
      faults: farm.faults,
      failNth: farm.failNth,
      nextCtxId: () => this.#nextCtx++,
      ...(this.selftest ? { mockBus: this.#mockBus() } : {}),
    };
    if (this.selftest) this.addIommu({ name: MOCK_IOMMU, vendor: 'mock' });
  }

  /** The selftest's mock devices: named `mock_devN`, on the host's `mock` IOMMU, one group each. */
  #mockBus(): MockBus {
    let next = 0;
    return {
      createDevice: (flags) => {
        const name = `mock_dev${next++}`;
        const pasid = flags & MOCK_FLAGS_DEVICE_PASID ? MOCK_PASID_WIDTH : 0;
        const bdf = formatBdf(next & 0xffff, 1);
        return this.addDevice({ name, iommu: MOCK_IOMMU, bdf, pasidBits: pasid, flags }).kdev;
      },
      destroyDevice: (kdev) => this.removeDevice(kdev.name),
    };
  }

  /** Adds an IOMMU instance of a vendor (see {@link availableVendors}). */
  addIommu(opts: AddIommuOptions): IommuHandle {
    checkIommuOptions(this.name, opts);
    if (this.#iommus.has(opts.name)) fail('EEXIST', `IOMMU ${opts.name} exists on ${this.name}`);
    const { name, vendor, ...options } = opts;
    const inst = createIommu(vendor, {
      name,
      host: this.name,
      phys: this.phys,
      scheduler: this.farm.scheduler,
      tracer: this.farm.tracer,
      faults: this.farm.faults,
      options,
      spawn: (id, logic, input) => this.#spawn(logic, id, input),
    });
    const actor = this.#spawn('iommu', name, { name, vendor });
    actor.send({ type: 'ENABLE' });
    const handle: IommuHandle = { ...inst, vendor, actor, options };
    this.#iommus.set(name, handle);
    this.core.iommus.set(name, handle);
    return handle;
  }

  /** The IOMMU called `name`; an `IommufdError` ENODEV if there is none. */
  iommu(name: string): IommuHandle {
    const i = this.#iommus.get(name);
    if (!i) fail('ENODEV', `no IOMMU ${name} on ${this.name}`);
    return i;
  }

  /** Every IOMMU of the host, in the order they were added. */
  iommus(): IommuHandle[] {
    return [...this.#iommus.values()];
  }

  /** Adds a PCI device behind one of the host's IOMMUs, in its own group unless `group` names one. */
  addDevice(opts: AddDeviceOptions): Device {
    checkDeviceOptions(this.name, opts);
    if (this.#devices.has(opts.name)) fail('EEXIST', `device ${opts.name} exists on ${this.name}`);
    const iommu = this.iommu(opts.iommu);
    const bdf = opts.bdf ?? `0000:${(this.#nextBus++ & 0xff).toString(16).padStart(2, '0')}:00.0`;
    const rid = parseBdf(bdf);
    if ([...this.#devices.values()].some((d) => d.ref.rid === rid && d.kdev.iommu === iommu)) {
      fail('EEXIST', `BDF ${bdf} is taken on ${opts.iommu}`);
    }
    const ref = {
      name: opts.name,
      rid,
      bdf,
      pasidBits: opts.pasidBits ?? 0,
      ats: opts.ats ?? false,
      pri: opts.pri ?? false,
      flags: opts.flags ?? 0,
    };
    const group = this.core.group(opts.group ?? opts.name);
    const kdev = new KernelDevice(ref, iommu, group);
    kdev.kernelDriver = opts.kernelDriver;
    kdev.msiIsolated = opts.msiIsolated ?? true;
    this.core.addDevice(kdev);
    const actor = this.#spawn('device', opts.name, { name: opts.name, bdf });
    kdev.notify = (event) => actor.send(event);
    const device = new Device(this.farm, kdev, actor, this.phys, iommu.actor);
    this.#devices.set(opts.name, device);
    return device;
  }

  /** Hot-unplug: the device must not be bound. */
  removeDevice(name: string): void {
    const dev = this.device(name);
    if (dev.kdev.group.owner !== undefined && dev.actor.getSnapshot().value !== 'present') {
      fail('EBUSY', `${name} is bound`);
    }
    this.core.removeDevice(dev.kdev);
    dev.actor.send({ type: 'REMOVE' });
    this.actor.send({ type: 'STOP', id: this.#actorId(name) });
    this.#devices.delete(name);
  }

  /** The device called `name` (including the selftest's mock devices); ENODEV if there is none. */
  device(name: string): Device {
    const d = this.#devices.get(name);
    if (!d) fail('ENODEV', `no device ${name} on ${this.name}`);
    return d;
  }

  /** Every device of the host. */
  devices(): Device[] {
    return [...this.#devices.values()];
  }

  /** Starts a process that can open /dev/iommu and VFIO device cdevs. */
  spawnProcess(opts: ProcessOptions): Process {
    checkProcessOptions(this.name, opts);
    if (this.#processes.has(opts.name)) fail('EEXIST', `process ${opts.name} exists on ${this.name}`);
    const privileged = opts.privileged ?? true;
    const uid = opts.uid ?? (privileged ? 0 : 1000);
    let user = this.#users.get(uid);
    if (!user) {
      user = new UserAccount(uid);
      this.#users.set(uid, user);
    }
    const proc = new Process(this, { ...opts, privileged }, this.#nextPid++, user);
    this.#processes.set(opts.name, proc);
    return proc;
  }

  /** Every process spawned on this host, in spawn order. */
  processes(): Process[] {
    return [...this.#processes.values()];
  }

  /** The process called `name`; an `IommufdError` ESRCH if there is none. */
  process(name: string): Process {
    const p = this.#processes.get(name);
    if (!p) fail('ESRCH', `no process ${name} on ${this.name}`);
    return p;
  }

  #actorId(name: string): string {
    return `${this.name}/${name}`;
  }

  #spawn(src: 'iommu' | 'device' | AnyActorLogic, name: string, input: unknown): AnyActorRef {
    const id = this.#actorId(name);
    this.actor.send({ type: 'SPAWN', src, id, input });
    const ref = this.actor.system.get(id) as AnyActorRef | undefined;
    if (!ref) throw new Error(`actor ${id} did not start`);
    return ref;
  }
}
