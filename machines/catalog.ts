import { deviceMachine } from './device.machine.ts';
import { iommuMachine } from './iommu.machine.ts';

/**
 * Every machine a host can run, by name. A host spawns its IOMMUs, devices and queues from
 * here, so all of them are children of one host and addressable through the actor system.
 */
export const machineCatalog = {
  iommu: iommuMachine,
  device: deviceMachine,
} as const;

export type MachineName = keyof typeof machineCatalog;
