import { fail, warnOn } from '../iommufd/errno.ts';

/** Anything charged against RLIMIT_MEMLOCK: a user's or an mm's locked-page count. */
export interface LockedCounter {
  lockedPages: bigint;
}

/**
 * A user's memlock charge, shared by all processes of the uid: the kernel's `user_struct->locked_vm`,
 * which iommufd charges with IOMMUFD_ACCOUNT_USER (the default).
 */
export class UserAccount implements LockedCounter {
  lockedPages = 0n;
  constructor(readonly uid: number) {}
}

/** Per-mm counters: `mm->pinned_vm` (VmPin) and `mm->locked_vm` (VmLck). */
export class MmCounters implements LockedCounter {
  pinnedPages = 0n;
  lockedPages = 0n;
}

/**
 * Adds `npages` to `counter` unless the result passes `limitPages` (undefined = RLIM_INFINITY),
 * in which case ENOMEM and nothing changes, as `incr_user_locked_vm()` / `__account_locked_vm()`.
 */
export function charge(
  counter: LockedCounter,
  npages: bigint | number,
  limitPages: bigint | undefined,
): void {
  const n = BigInt(npages);
  const next = counter.lockedPages + n;
  if (limitPages !== undefined && next > limitPages) {
    fail('ENOMEM', `RLIMIT_MEMLOCK: ${next} pages > limit ${limitPages}`);
  }
  counter.lockedPages = next;
}

export function uncharge(counter: LockedCounter, npages: bigint | number): void {
  const n = BigInt(npages);
  warnOn(n > counter.lockedPages, `uncharging ${n} pages of ${counter.lockedPages}`);
  counter.lockedPages -= n;
}
