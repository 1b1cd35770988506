import { type AnyActorLogic, type AnyActorRef, createActor } from 'xstate';
import type { Device, DmaResult } from '../../../../actors/device.ts';
import type { PhysMemory } from '../../../../actors/mem/phys-memory.ts';
import { noFaults } from '../../../../actors/runtime/faults.ts';
import { createFarm } from '../../../../index.ts';
import { DeviceAtc } from '../../../../vendors/atc.ts';
import { IOMMU_READ, IOMMU_WRITE } from '../../../../vendors/driver.ts';
import { DEFAULT_TIMING, VtdHardware, type VtdTiming } from '../../../../vendors/intel-vtd/hardware.ts';
import type { VtdDriver } from '../../../../vendors/intel-vtd/index.ts';
import type { VtdPagingDomain } from '../../../../vendors/intel-vtd/paging-domain.ts';
import {
  DEFAULT_FEATURES,
  DMA_GCMD_QIE,
  DMA_IQA_DW,
  DMAR_GCMD_REG,
  DMAR_IQA_REG,
  DMAR_IQT_REG,
  type VtdFeatures,
} from '../../../../vendors/intel-vtd/regs.ts';
import type { VendorContext } from '../../../../vendors/registry.ts';

export const RW = IOMMU_READ | IOMMU_WRITE;

/** A farm host with one VT-d unit (driver booted) and one PCI device behind it. */
export function vtdFarm(
  o: {
    iommu?: Record<string, unknown>;
    ats?: boolean;
    pri?: boolean;
    pasidBits?: number;
    bdf?: string;
    seed?: number;
  } = {},
) {
  const farm = createFarm({ seed: o.seed ?? 1 });
  const host = farm.addHost({ name: 'h0' });
  const inst = host.addIommu({ name: 'dmar0', vendor: 'intel-vtd', ...o.iommu });
  const dev = host.addDevice({
    name: 'nic0',
    iommu: 'dmar0',
    bdf: o.bdf ?? '0000:02:00.0',
    ats: o.ats ?? false,
    pri: o.pri ?? false,
    pasidBits: o.pasidBits ?? 0,
  });
  return { farm, host, phys: host.phys, hw: inst.hw as VtdHardware, driver: inst.driver as VtdDriver, dev };
}

/** A zeroed physical page filled with `fill`, returning its PA. */
export function dataPage(phys: PhysMemory, fill: number): bigint {
  const pa = phys.allocPage() << 12n;
  phys.fill(pa, 4096, fill);
  return pa;
}

/** Paging domain attached to the device's RID, with `pages` data pages mapped from `iova`. */
export async function attachedDomain(
  env: ReturnType<typeof vtdFarm>,
  o: { flags?: number; iova?: bigint; pages?: number; pasid?: number } = {},
) {
  const domain = env.driver.domainAllocPaging(env.dev.ref, o.flags ?? 0, undefined) as VtdPagingDomain;
  await domain.attachDev(env.dev.ref, o.pasid, undefined);
  const iova = o.iova ?? 0x10_0000n;
  const pas: bigint[] = [];
  for (let i = 0; i < (o.pages ?? 1); i++) {
    const pa = dataPage(env.phys, 0x40 + i);
    domain.map(iova + BigInt(i) * 4096n, pa, 4096n, RW);
    pas.push(pa);
  }
  return { domain, iova, pas };
}

export async function read(dev: Device, iova: bigint, pasid?: number) {
  return dev.dma({ op: 'read', iova, length: 4, ...(pasid === undefined ? {} : { pasid }) });
}

/** A VT-d unit with no driver: tests program its registers and memory themselves. */
export function bareVtd(o: { features?: Partial<VtdFeatures>; timing?: Partial<VtdTiming> } = {}) {
  const farm = createFarm({ seed: 1 });
  const host = farm.addHost({ name: 'h0' });
  const actors: AnyActorRef[] = [];
  const ctx: VendorContext = {
    name: 'dmar9',
    host: 'h0',
    phys: host.phys,
    scheduler: farm.scheduler,
    tracer: farm.tracer,
    faults: noFaults(),
    options: {},
    spawn: (_id: string, logic: AnyActorLogic, input: unknown) => {
      const a = createActor(logic, { input }).start();
      actors.push(a);
      return a;
    },
  };
  const hw = new VtdHardware(ctx, { ...DEFAULT_FEATURES, ...o.features }, { ...DEFAULT_TIMING, ...o.timing });
  return { farm, host, phys: host.phys, hw, qiActor: actors[0]! };
}

/** Registers an ATS device (an ATC) with a bare unit. */
export function atsEndpoint(hw: VtdHardware, rid: number, name = 'ep'): DeviceAtc {
  const atc = new DeviceAtc();
  hw.registerDevice(rid, { name, atc });
  return atc;
}

/** Software side of a bare invalidation queue: a 256-bit ring at IQA, written by hand. */
export class Ring {
  readonly base: bigint;
  tail = 0;

  constructor(
    readonly hw: VtdHardware,
    readonly phys: PhysMemory,
    readonly dw = true,
  ) {
    this.base = phys.allocPage() << 12n;
    hw.regs.write64(DMAR_IQA_REG, this.base | (dw ? DMA_IQA_DW : 0n));
    hw.regs.write32(DMAR_GCMD_REG, DMA_GCMD_QIE);
  }

  get size(): number {
    return this.dw ? 32 : 16;
  }

  /** Writes a descriptor at the tail (no doorbell). */
  put(words: readonly bigint[]): number {
    const at = this.base + BigInt(this.tail * this.size);
    for (let i = 0; i < this.size / 8; i++) this.phys.writeU64(at + BigInt(i * 8), words[i] ?? 0n);
    return this.tail++;
  }

  doorbell(): void {
    this.hw.regs.write64(DMAR_IQT_REG, BigInt(this.tail) << (this.dw ? 5n : 4n));
  }

  push(...descs: readonly (readonly bigint[])[]): void {
    for (const d of descs) this.put(d);
    this.doorbell();
  }
}

/** The VT-d fault record of a failed DMA (throws if it succeeded or failed elsewhere). */
export function vtdRecord(r: DmaResult): Readonly<Record<string, number | bigint | string>> {
  if (r.ok || r.fault.vendor !== 'intel-vtd')
    throw new Error(`expected a VT-d fault, got ${JSON.stringify(r.ok)}`);
  return r.fault.record;
}
