import type { Farm } from '../../actors/farm.ts';

/** Scheduler steps one call (or the DMA sweep after it) may take: past it, it counts as a hang. */
export const STEP_BOUND = 20_000;
/** Virtual time one call may take (5 s): every vendor queue and timeout finishes far sooner. */
export const VIRTUAL_NS_BOUND = 5_000_000_000n;

/** A call that did not settle within the bounds: reported as a finding, never waited on further. */
export class HangError extends Error {
  constructor(what: string) {
    super(`${what} did not settle within ${STEP_BOUND} scheduler steps / ${VIRTUAL_NS_BOUND} ns`);
    this.name = 'HangError';
  }
}

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs the farm (built with autoRun off) until `p` settles and nothing is left in flight, within
 * the step and virtual-time bounds. A farm that goes idle while `p` is pending lost a wake-up.
 */
export async function bounded<T>(farm: Farm, p: Promise<T>, what: string): Promise<T> {
  let done = false;
  const watched = p.finally(() => {
    done = true;
  });
  watched.catch(() => undefined);
  const start = BigInt(farm.now);
  for (let n = 0; ; n++) {
    await macrotask();
    if (n > STEP_BOUND || BigInt(farm.now) - start > VIRTUAL_NS_BOUND) throw new HangError(what);
    if (!farm.step()) {
      await macrotask();
      if (done && !farm.scheduler.busy) return watched;
      if (!done && !farm.scheduler.busy) throw new HangError(`${what} (the farm went idle first)`);
    }
  }
}
