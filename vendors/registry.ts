import type { AnyActorLogic, AnyActorRef } from 'xstate';
import { fail } from '../actors/iommufd/errno.ts';
import type { IommuInstance } from '../actors/kernel/iommu-core.ts';
import type { PhysMemory } from '../actors/mem/phys-memory.ts';
import type { FaultSwitches } from '../actors/runtime/faults.ts';
import type { Scheduler } from '../actors/runtime/scheduler.ts';
import type { Tracer } from '../actors/runtime/trace.ts';
import { createAmdViIommu } from './amd-vi/index.ts';
import { createSmmuv3Iommu } from './arm-smmuv3/index.ts';
import type { VendorName } from './driver.ts';
import { createVtdIommu } from './intel-vtd/index.ts';
import { createMockIommu } from './mock/index.ts';

/** What a vendor gets from the host to build an IOMMU instance. */
export interface VendorContext {
  readonly name: string;
  readonly host: string;
  readonly phys: PhysMemory;
  readonly scheduler: Scheduler;
  readonly tracer: Tracer;
  /** The farm's broken-twin switches: drivers consult them on the paths they break. */
  readonly faults: FaultSwitches;
  /** Vendor options from `host.addIommu({ ... })` (feature bits, queue sizes ...). */
  readonly options: Readonly<Record<string, unknown>>;
  /**
   * Starts a machine as a child of the host, registered as `<host>/<id>` in the actor system
   * (e.g. `smmu0/cmdq`). Machines get summaries (queue non-empty, sync done, error), never a
   * per-descriptor or per-DMA event.
   * @internal
   */
  spawn(id: string, logic: AnyActorLogic, input: unknown): AnyActorRef;
}

export type VendorFactory = (ctx: VendorContext) => IommuInstance;

const FACTORIES: Partial<Record<VendorName, VendorFactory>> = {
  mock: createMockIommu,
  'intel-vtd': createVtdIommu,
  'arm-smmuv3': createSmmuv3Iommu,
  'amd-vi': createAmdViIommu,
};

/** Vendors whose factory is complete; the others still throw ENODEV. */
const READY = new Set<VendorName>(['mock', 'intel-vtd', 'arm-smmuv3', 'amd-vi']);

/** Every vendor name, simulated or not yet ({@link availableVendors} lists the simulated ones). */
export const VENDORS: readonly VendorName[] = ['mock', 'intel-vtd', 'arm-smmuv3', 'amd-vi', 'power-tce'];

/** The vendors this build can simulate. */
export function availableVendors(): VendorName[] {
  return VENDORS.filter((v) => FACTORIES[v] !== undefined && READY.has(v));
}

export function createIommu(vendor: VendorName, ctx: VendorContext): IommuInstance {
  const factory = FACTORIES[vendor];
  if (!factory)
    fail('ENODEV', `vendor '${vendor}' is not simulated (available: ${availableVendors().join(', ')})`);
  return factory(ctx);
}
