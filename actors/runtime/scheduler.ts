import type { SimClock } from './clock.ts';
import { Fabric, type FabricMessage } from './fabric.ts';
import type { Rng } from './rng.ts';
import { StallWatch } from './stall-watch.ts';
import { type Timer, TimerHeap } from './timer-heap.ts';
import type { Tracer } from './trace.ts';

export interface TimerHandle {
  cancel(): void;
}

/**
 * Drives a farm: delivers fabric messages and fires timers in virtual time.
 *
 * In auto mode (the default) it pumps itself one step per macrotask, so every promise
 * continuation of the previous step runs before time moves on: awaited ioctls and DMAs settle
 * without the caller driving the clock. In manual mode a test calls `step()` itself.
 *
 * No throw inside a step escapes: a step scheduled with an `onError` (every `request`) hands
 * the error to it, so the caller's promise rejects; any other throw is kept in `uncaught` and
 * rejects the next `settle()`. The scheduler stays usable either way.
 */
export class Scheduler {
  readonly fabric: Fabric;
  readonly #timers = new TimerHeap();
  #seq = 0;
  #pumpQueued = false;
  #auto: boolean;
  #idleWaiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  readonly #uncaught: unknown[] = [];
  readonly #stalls = new StallWatch(() => !this.#auto);

  constructor(
    readonly clock: SimClock,
    rng: Rng,
    private readonly tracer: Tracer,
    opts: { auto?: boolean } = {},
  ) {
    this.fabric = new Fabric(rng.fork('fabric'));
    this.#auto = opts.auto ?? true;
  }

  get now(): number {
    return this.clock.now;
  }

  get auto(): boolean {
    return this.#auto;
  }

  set auto(on: boolean) {
    this.#auto = on;
    if (on) this.#kick();
  }

  /** Runs `fire` after `delayNs` of virtual time; a throw from it goes to `onError`. */
  setTimer(delayNs: number, fire: () => void, onError?: (err: unknown) => void): TimerHandle {
    const timer: Timer = {
      at: this.clock.now + Math.max(0, delayNs),
      seq: this.#seq++,
      fire: onError ? guard(fire, onError) : fire,
      cancelled: false,
    };
    this.#timers.push(timer);
    this.#kick();
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Resolves after `ns` of virtual time. */
  sleep(ns: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(ns, resolve));
  }

  /**
   * Sends a message over `link`, delivered no earlier than `latencyNs` from now; a throw from
   * `deliver` goes to `onError`.
   */
  post(
    link: string,
    label: string,
    deliver: () => void,
    latencyNs = 0,
    onError?: (err: unknown) => void,
  ): void {
    const message: FabricMessage = {
      link,
      label,
      readyAt: this.clock.now + latencyNs,
      deliver: onError ? guard(deliver, onError) : deliver,
    };
    this.fabric.post(message);
    this.#kick();
  }

  /**
   * A caller's request over `link`: `work` runs when the message is delivered, and its result or
   * its throw settles the returned promise. In manual mode the promise rejects with
   * FarmStalledError if it is awaited while nothing steps the farm (`call` names it).
   */
  request<T>(link: string, label: string, latencyNs: number, work: () => T, call = label): Promise<T> {
    const p = new Promise<T>((resolve, reject) => {
      this.post(link, label, () => resolve(work()), latencyNs, reject);
    });
    return this.#auto ? p : this.#stalls.watch(call, p);
  }

  /** `p`, watched for a stall in manual mode (for calls that wait on the scheduler indirectly). */
  watch<T>(call: string, p: Promise<T>): Promise<T> {
    return this.#auto ? p : this.#stalls.watch(call, p);
  }

  /** Marks the farm as driven (by a loop that steps it) until the release is called. */
  hold(): () => void {
    return this.#stalls.hold();
  }

  /** Throws from steps that had no `onError`, oldest first; taking them clears the list. */
  takeUncaught(): unknown[] {
    return this.#uncaught.splice(0);
  }

  /** True while a message or a timer is outstanding. */
  get busy(): boolean {
    return this.fabric.pending > 0 || this.#timers.peek() !== undefined;
  }

  /**
   * One unit of progress: a ready fabric message if any, else the earliest event in time
   * (advancing the clock to it). Returns false when there is nothing left to do.
   */
  step(): boolean {
    this.#stalls.noteStep();
    try {
      return this.#stepOnce();
    } catch (err) {
      // The message or timer was already taken: the scheduler carries on past it.
      this.#uncaught.push(err);
      return true;
    }
  }

  #stepOnce(): boolean {
    const message = this.fabric.takeOne(this.clock.now);
    if (message) {
      if (this.tracer.on) {
        this.tracer.emit({
          type: 'fabric.deliver',
          t: this.clock.now,
          link: message.link,
          label: message.label,
        });
      }
      message.deliver();
      return true;
    }
    const timer = this.#timers.peek();
    const messageAt = this.fabric.nextReadyAt();
    if (timer === undefined && messageAt === undefined) return false;
    if (timer !== undefined && (messageAt === undefined || timer.at <= messageAt)) {
      this.#timers.pop();
      this.clock.advanceTo(timer.at);
      timer.fire();
      return true;
    }
    this.clock.advanceTo(messageAt!);
    return true;
  }

  /** Resolves once nothing is pending (after letting every promise continuation run). */
  settle(): Promise<void> {
    const release = this.#stalls.hold();
    const done = new Promise<void>((resolve, reject) => {
      this.#idleWaiters.push({ resolve, reject });
      this.#kick(true);
    });
    void done.then(release, release);
    return done;
  }

  #kick(force = false): void {
    if (this.#pumpQueued || (!this.#auto && !force)) return;
    this.#pumpQueued = true;
    setImmediate(() => this.#pump(force));
  }

  #pump(force: boolean): void {
    this.#pumpQueued = false;
    if (this.#auto || force) {
      if (this.step()) {
        this.#kick(force || this.#idleWaiters.length > 0);
        return;
      }
    }
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    const failed = waiters.length > 0 && this.#uncaught.length > 0;
    const error = failed ? this.#uncaught.shift() : undefined;
    for (const w of waiters) {
      if (failed) w.reject(error);
      else w.resolve();
    }
  }
}

/** `fn` with its throws handed to `onError`. */
function guard(fn: () => void, onError: (err: unknown) => void): () => void {
  return () => {
    try {
      fn();
    } catch (err) {
      onError(err);
    }
  };
}
