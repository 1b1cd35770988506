import type { AnyActorRef, AnyStateMachine } from 'xstate';
import { machineCatalog } from '../../../machines/catalog.ts';
import { cmdqMachine } from '../../../machines/cmdq.machine.ts';
import { farmMachine } from '../../../machines/farm.machine.ts';
import { hostMachine } from '../../../machines/host.machine.ts';
import type { VendorName } from '../../../vendors/driver.ts';
import { availableVendors } from '../../../vendors/registry.ts';
import { Farm } from '../../farm.ts';

/** A machine type a chart can be drawn for. */
export interface MachineType {
  /** `device`, `cmdq`, or `<vendor>.<role>` for a machine a vendor provides (`intel-vtd.qi`). */
  readonly name: string;
  /** An XState v5 machine (typed structurally: see `ChartTarget`). */
  readonly machine: ChartMachine;
  readonly vendor?: VendorName;
}

/** A machine as `chart` and the CLI use it: its id and its root state node. */
export interface ChartMachine {
  readonly id: string;
  readonly root: object;
}

const BASE: readonly MachineType[] = [
  { name: 'farm', machine: farmMachine },
  { name: 'host', machine: hostMachine },
  ...Object.entries(machineCatalog).map(([name, machine]) => ({ name, machine: machine as AnyStateMachine })),
  { name: 'cmdq', machine: cmdqMachine },
];

function isMachine(logic: unknown): logic is AnyStateMachine {
  return typeof logic === 'object' && logic !== null && 'root' in logic && 'config' in logic;
}

/**
 * The machines a vendor starts, found by building one IOMMU of that vendor in a scratch farm
 * (nothing runs: autoRun is off) and collecting every machine actor it spawned that is not a
 * base machine as-is (the scratch farm is left idle, not stopped: a stopped queue would
 * warn about the boot doorbell still queued for it). A vendor that specialises a base machine with `provide`, or brings its
 * own, shows up here without being listed anywhere.
 */
function vendorMachines(vendor: VendorName): MachineType[] {
  const farm = new Farm({ seed: 0, autoRun: false });
  const host = farm.addHost({ name: 'h' });
  host.addIommu({ name: 'i', vendor });
  const base = new Set<unknown>(BASE.map((b) => b.machine));
  const found: MachineType[] = [];
  const all = farm.root.system.getAll() as Record<string, AnyActorRef>;
  for (const [id, ref] of Object.entries(all).sort(([a], [b]) => a.localeCompare(b))) {
    const logic = (ref as { logic?: unknown }).logic;
    if (!id.startsWith('h/i') || !isMachine(logic) || base.has(logic)) continue;
    const role = id === 'h/i' ? logic.id : id.slice('h/i/'.length);
    found.push({ name: `${vendor}.${role}`, machine: logic, vendor });
  }
  return found;
}

let cached: MachineType[] | undefined;

/** Every machine type: the farm's own (farm, host, iommu, device, cmdq), then each vendor's. */
export function machineTypes(): readonly MachineType[] {
  cached ??= [...BASE, ...availableVendors().flatMap(vendorMachines)];
  return cached;
}

export function machineType(name: string): MachineType | undefined {
  return machineTypes().find((m) => m.name === name);
}
