import type { Farm } from '../../actors/farm.ts';
import type { DeliveryPolicy } from '../../actors/runtime/fabric.ts';

/**
 * Driving a farm built with `autoRun: false` from a property or a reproduction script: every
 * helper lets pending promise continuations run (one macrotask) before each scheduler step, so
 * the same calls replay the same interleaving.
 */

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Scheduler steps one call may take before it counts as never finishing (a lost completion or
 * a queue that keeps itself busy forever): a bug to report, not a reason to spin.
 */
export const STEP_BUDGET = 200_000;

function runaway(what: string): Error {
  return new Error(`${what} did not finish within ${STEP_BUDGET} scheduler steps`);
}

const DELIVERED = new WeakMap<Farm, { count: number; pick: number | undefined }>();

/** Counts fabric deliveries and lets `deliver` force the next choice; idempotent. */
function instrument(farm: Farm): { count: number; pick: number | undefined } {
  let state = DELIVERED.get(farm);
  if (state) return state;
  const s = { count: 0, pick: undefined as number | undefined };
  state = s;
  DELIVERED.set(farm, s);
  const fabric = farm.scheduler.fabric;
  const take = fabric.takeOne.bind(fabric);
  fabric.takeOne = (now) => {
    const policy = fabric.policy;
    if (s.pick !== undefined) {
      const pick = s.pick;
      fabric.policy = (candidates) => pick % candidates.length;
    }
    try {
      const message = take(now);
      if (message) {
        s.count++;
        s.pick = undefined;
      }
      return message;
    } finally {
      fabric.policy = policy;
    }
  };
  return s;
}

/**
 * A delivery policy fed by a list of choices (fast-check shrinks them towards 0, the first ready
 * link); once the list is used up it keeps picking the first.
 */
export function planPolicy(plan: readonly number[]): DeliveryPolicy {
  let i = 0;
  return (candidates) => (i < plan.length ? plan[i++]! % candidates.length : 0);
}

/** Runs the farm until `p` settles; rejects if the farm goes idle first (a lost wake-up). */
export async function drive<T>(farm: Farm, p: Promise<T>): Promise<T> {
  instrument(farm);
  const release = farm.scheduler.hold();
  try {
    return await driveHeld(farm, p);
  } finally {
    release();
  }
}

async function driveHeld<T>(farm: Farm, p: Promise<T>): Promise<T> {
  let done = false;
  const watched = p.finally(() => {
    done = true;
  });
  watched.catch(() => undefined);
  for (let n = 0; ; n++) {
    await macrotask();
    if (done) return watched;
    if (n > STEP_BUDGET) throw runaway('the call');
    if (!farm.step()) {
      await macrotask();
      if (done) return watched;
      throw new Error('the farm went idle before the call completed');
    }
  }
}

/** Like `drive`, but a rejection with an IommufdError is returned as the value (scripts keep going). */
export async function attempt<T>(farm: Farm, p: Promise<T>): Promise<T | Error> {
  try {
    return await drive(farm, p);
  } catch (err) {
    if (err instanceof Error && (err as { errno?: unknown }).errno !== undefined) return err;
    throw err;
  }
}

/**
 * Delivers exactly one fabric message, chosen by position among the ready links (time advances
 * to the next ready one if none is). False when nothing is in flight.
 */
export async function deliver(farm: Farm, pick: number): Promise<boolean> {
  const s = instrument(farm);
  const before = s.count;
  s.pick = pick;
  const release = farm.scheduler.hold();
  try {
    for (let n = 0; ; n++) {
      await macrotask();
      if (s.count > before) return true;
      if (n > STEP_BUDGET) throw runaway('the delivery');
      if (!farm.step()) return false;
    }
  } finally {
    s.pick = undefined;
    release();
  }
}

/** Runs the farm until nothing is pending. */
export async function settle(farm: Farm): Promise<void> {
  instrument(farm);
  const release = farm.scheduler.hold();
  try {
    for (let n = 0; ; n++) {
      await macrotask();
      if (n > STEP_BUDGET) throw runaway('settling the farm');
      if (!farm.step()) {
        await macrotask();
        if (!farm.scheduler.busy) return;
      }
    }
  } finally {
    release();
  }
}
