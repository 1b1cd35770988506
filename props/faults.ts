import { FAULT_NAMES, type FaultName } from '../actors/runtime/faults.ts';
import type { VendorName } from '../vendors/driver.ts';
import type { InvariantName } from './invariants/invariant.ts';

/**
 * The broken twins: for each invariant, the fault-injection switches (`farm.faults`) that break
 * the simulated kernel or driver the way real bugs do, and that the invariant must catch.
 */
export const INVARIANT_FAULTS: Readonly<Record<InvariantName, readonly FaultName[]>> = {
  isolation: [
    'skipPteClear',
    'skipIotlbInvalidation',
    'skipSync',
    'skipAtcInvalidation',
    'wrongInvalidationTag',
    'skipGroupOwnershipCheck',
  ],
  'no-stale': [
    'skipPteClear',
    'skipIotlbInvalidation',
    'skipSync',
    'skipAtcInvalidation',
    'wrongInvalidationTag',
  ],
  'group-ownership': ['skipGroupOwnershipCheck'],
  accounting: ['doubleAccountSharedPages'],
  'object-graph': ['leakHwptReference'],
  'errno-atomicity': ['skipMapRollback'],
  model: [],
};

/** Switches that break a driver's caches: they act only on vendors with an IOTLB/ATC (not the mock). */
const CACHE_FAULTS: ReadonlySet<FaultName> = new Set([
  'skipIotlbInvalidation',
  'skipSync',
  'skipAtcInvalidation',
  'wrongInvalidationTag',
]);

/** Whether a switch changes anything on a vendor: mock-only, cache-only, or core (all vendors). */
export function faultApplies(fault: FaultName, vendor: VendorName): boolean {
  if (fault === 'skipPteClear') return vendor === 'mock';
  if (CACHE_FAULTS.has(fault)) return vendor !== 'mock';
  return FAULT_NAMES.includes(fault);
}

/** The broken twins of an invariant on a vendor. */
export function brokenTwins(invariant: InvariantName, vendor: VendorName): FaultName[] {
  return INVARIANT_FAULTS[invariant].filter((f) => faultApplies(f, vendor));
}
