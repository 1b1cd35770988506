/**
 * The fail-nth loop of the kernel's iommufd_fail_nth selftest, over a farm: each step of a
 * scenario runs with the n-th injection point failing, for n = 1, 2, … until a run reaches no
 * injection. Every failing run must reject with the errno of the point that failed and leave
 * the ctx, the kernel state below it and the devices' DMA exactly as before. At the end the
 * scenario closes everything; its physical memory must then match an uninjected run's (no
 * leaked table page, pinned page or reference).
 */
import { isDeepStrictEqual as isEqual } from 'node:util';
import { expect } from 'vitest';
import type { FailKind } from '../../actors/runtime/fail-nth.ts';
import {
  availableVendors,
  createFarm,
  type Device,
  type Farm,
  type Host,
  type Iommufd,
  IommufdError,
  type Process,
  type VendorName,
  type VfioDevice,
} from '../../index.ts';
import { snapshotCtx, snapshotKernel } from '../../props/snapshot.ts';

export const PAGE = 4096n;
export const BUF_LEN = 16n * PAGE;

/** A DMA the devices repeat after every failed run: its outcome must not change. */
export interface DmaProbe {
  readonly dev: Device;
  readonly iova: bigint;
  readonly pasid?: number;
}

export interface FailWorld {
  readonly vendor: VendorName;
  readonly farm: Farm;
  readonly host: Host;
  readonly proc: Process;
  readonly fd: Iommufd;
  /** The IOMMU instance the devices sit behind. */
  readonly iommu: string;
  readonly devs: readonly Device[];
  /** 2 MiB-aligned, written (so its pages exist) buffer of BUF_LEN bytes. */
  readonly buf: bigint;
  readonly vfios: VfioDevice[];
  readonly probes: DmaProbe[];
  /** IOVAs at which every paging domain's translation is compared. */
  readonly iovas: bigint[];
}

/** Points injected per kind in one scenario, for the summary. */
export type Tally = Record<FailKind, number>;

export type Step = <T>(label: string, op: () => Promise<T>) => Promise<T>;

export interface WorldOptions {
  readonly pasidBits?: number;
  /** Extra options for addIommu (nesting, ...). */
  readonly iommu?: Readonly<Record<string, unknown>>;
}

export function makeWorld(vendor: VendorName, opts: WorldOptions = {}): FailWorld {
  const farm = createFarm({ seed: 3 });
  const host = farm.addHost({ name: 'h0', selftest: vendor === 'mock' });
  const iommu = vendor === 'mock' ? 'mock' : 'iommu0';
  if (vendor !== 'mock') host.addIommu({ name: iommu, vendor, ...opts.iommu });
  const devs = [0, 1].map((i) =>
    host.addDevice({
      name: `dev${i}`,
      iommu,
      bdf: `0000:0${i + 1}:00.0`,
      pasidBits: opts.pasidBits ?? 0,
    }),
  );
  const proc = host.spawnProcess({ name: 'vmm' });
  const fd = proc.openIommufd();
  const buf = proc.mmap(BUF_LEN, { align: 2n << 20n });
  proc.write(
    buf,
    new Uint8Array(Number(BUF_LEN)).map((_, i) => (i * 13 + 7) & 0xff),
  );
  return { vendor, farm, host, proc, fd, iommu, devs, buf, vfios: [], probes: [], iovas: [] };
}

/**
 * The tag (DomainID, DID, ASID) the driver would give the next domain: a tag leaked by a failed
 * allocation shows here, as it would in the hardware's IOTLB tags.
 */
function nextDomainTag(w: FailWorld): number | undefined {
  const driver = w.host.iommu(w.iommu).driver as unknown as {
    allocDomainId?(): number;
    freeDomainId?(id: number): void;
    allocDid?(): number;
    freeDid?(id: number): void;
  };
  if (driver.allocDomainId && driver.freeDomainId) {
    const id = driver.allocDomainId();
    driver.freeDomainId(id);
    return id;
  }
  if (driver.allocDid && driver.freeDid) {
    const id = driver.allocDid();
    driver.freeDid(id);
    return id;
  }
  if (w.vendor === 'arm-smmuv3') {
    const d = w.host.iommu(w.iommu).driver.domainAllocPaging(w.devs[0]!.kdev.ref, 0, undefined);
    d.free();
    return (d as unknown as { asid: number }).asid;
  }
  return undefined;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

async function observe(w: FailWorld) {
  await w.farm.settle();
  const nextTag = nextDomainTag(w);
  await w.farm.settle(); // an SMMU domain gives its ASID back once its TLBI completes
  const dma: string[] = [];
  for (const p of w.probes) {
    const r = await p.dev.dma({
      op: 'read',
      iova: p.iova,
      length: 16,
      ...(p.pasid === undefined ? {} : { pasid: p.pasid }),
    });
    dma.push(`${p.dev.kdev.name}@${p.iova.toString(16)}: ${r.ok ? hex(r.data!) : `fault ${r.fault.reason}`}`);
  }
  return {
    nextTag,
    ctx: snapshotCtx(w.fd.ctx, w.proc),
    kernel: snapshotKernel(w.fd.ctx, w.iovas),
    dma,
  };
}

type Observed = Awaited<ReturnType<typeof observe>>;

/** What the reference run saw after each step: its result and the state it left. */
export type Record_ = Array<{ label: string; result: unknown; after: Observed }>;

/** A step that runs `op` once, uninjected (the reference run), recording what it left. */
export function plainStep(w: FailWorld, log: Record_): Step {
  return async (label, op) => {
    const result = await op();
    log.push({ label, result, after: await observe(w) });
    return result;
  };
}

/** A step that runs `op` under fail-nth for every n, checking each failed run. */
export function injectingStep(w: FailWorld, tally: Tally, ref: Record_): Step {
  let index = 0;
  return async <T>(label: string, op: () => Promise<T>): Promise<T> => {
    const expected = ref[index++];
    if (expected?.label !== label) throw new Error(`step ${label} has no reference (got ${expected?.label})`);
    for (let n = 1; ; n++) {
      const before = await observe(w);
      w.farm.failNth.arm(n);
      let result: T | undefined;
      let error: unknown;
      try {
        result = await op();
      } catch (err) {
        error = err;
      }
      const { injected } = w.farm.failNth.disarm();
      await w.farm.settle();
      if (!injected) {
        if (error !== undefined) throw error;
        return result as T;
      }
      const where = `${w.vendor} ${label}: n=${n} ${injected.kind}:${injected.name}`;
      expect(error, `${where} was swallowed`).toBeDefined();
      expect(IommufdError.is(error), `${where} threw ${String(error)}`).toBe(true);
      expect((error as IommufdError).errno, where).toBe(injected.errno);
      tally[injected.kind]++;
      const after = await observe(w);
      if (injected.kind === 'usercopy' && !isEqual(after, before)) {
        // A copy-out after the work is done (iommufd_ucmd_respond): EFAULT, and the effect
        // stays exactly as a success leaves it, as in the kernel.
        expect(after, `${where} left a half-done state`).toEqual(expected.after);
        return expected.result as T;
      }
      expect(after, `${where} changed state`).toEqual(before);
    }
  };
}

/** Closes every file of the world and reports what physical memory still holds. */
async function teardown(w: FailWorld) {
  for (const v of w.vfios) await v.close();
  await w.fd.close();
  await w.farm.settle();
  const { allocatedFrames, totalRefs } = w.host.phys.snapshot();
  return { allocatedFrames, totalRefs, pinned: w.proc.mm.counters.pinnedPages };
}

export type Scenario = (w: FailWorld, step: Step) => Promise<void>;

/**
 * Runs `scenario` once plainly and once with every step injected; both must end with the same
 * memory once closed. Returns how many failures were injected, by kind.
 */
export async function failNthScenario(
  vendor: VendorName,
  scenario: Scenario,
  opts: WorldOptions = {},
): Promise<Tally> {
  const ref = makeWorld(vendor, opts);
  const log: Record_ = [];
  await scenario(ref, plainStep(ref, log));
  const expected = await teardown(ref);
  const w = makeWorld(vendor, opts);
  const tally: Tally = { alloc: 0, pin: 0, usercopy: 0, driver: 0, table: 0 };
  await scenario(w, injectingStep(w, tally, log));
  expect(await teardown(w), `${vendor}: memory after close`).toEqual(expected);
  return tally;
}

export const VENDORS = availableVendors();

/** Binds `dev` through its VFIO cdev; returns the device ID. */
export async function bind(w: FailWorld, step: Step, i: number): Promise<number> {
  const vdev = w.proc.openVfioDevice(w.devs[i]!.kdev.name);
  w.vfios.push(vdev);
  const out = await step(`bind dev${i}`, () => vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: w.fd.fd }));
  return out.out_devid as number;
}
