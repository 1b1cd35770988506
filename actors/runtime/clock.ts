/**
 * Virtual time in nanoseconds. Only the scheduler moves it, and never backwards, so a run's
 * timeline is a pure function of its seed and inputs.
 */
export class SimClock {
  #now = 0;

  get now(): number {
    return this.#now;
  }

  /** Moves time forward to `t`; asking to go back is a scheduler bug. */
  advanceTo(t: number): void {
    if (t < this.#now) throw new Error(`SimClock: unable to travel back in time (${t} < ${this.#now})`);
    this.#now = t;
  }
}

export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
