/**
 * Fault-injection switches: each breaks the simulated kernel or a driver the way a real bug
 * does, so that a property can show it catches that bug (a "broken twin"). All off by default;
 * a farm owns one set (`farm.faults`), read on the paths they break.
 */
export interface FaultSwitches {
  /** Drivers: unmap clears the page table but skips the IOTLB invalidation. */
  skipIotlbInvalidation: boolean;
  /** Drivers: invalidations are queued but the barrier (CMD_SYNC / inv_wait / COMPLETION_WAIT) is not awaited. */
  skipSync: boolean;
  /** Drivers: the device ATC is never invalidated. */
  skipAtcInvalidation: boolean;
  /** Drivers: TLB invalidations carry the wrong tag (ASID/DID/DomainID off by one). */
  wrongInvalidationTag: boolean;
  /** Mock driver (no caches): unmap leaves the IOPTEs in place. */
  skipPteClear: boolean;
  /** Core: bind does not check that the group's other devices are unowned or ours. */
  skipGroupOwnershipCheck: boolean;
  /** Core: pages shared between areas (IOAS_COPY) are charged to RLIMIT_MEMLOCK again on each pin. */
  doubleAccountSharedPages: boolean;
  /** Core: detach forgets to drop the device's reference on its HWPT. */
  leakHwptReference: boolean;
  /** Core: a failing IOAS_MAP keeps the area it inserted (no rollback). */
  skipMapRollback: boolean;
}

export type FaultName = keyof FaultSwitches;

export const FAULT_NAMES: readonly FaultName[] = [
  'skipIotlbInvalidation',
  'skipSync',
  'skipAtcInvalidation',
  'wrongInvalidationTag',
  'skipPteClear',
  'skipGroupOwnershipCheck',
  'doubleAccountSharedPages',
  'leakHwptReference',
  'skipMapRollback',
];

export function noFaults(): FaultSwitches {
  return Object.fromEntries(FAULT_NAMES.map((n) => [n, false])) as unknown as FaultSwitches;
}
