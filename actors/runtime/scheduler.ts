import type { SimClock } from './clock.ts';
import { Fabric, type FabricMessage } from './fabric.ts';
import type { Rng } from './rng.ts';
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
 */
export class Scheduler {
  readonly fabric: Fabric;
  readonly #timers = new TimerHeap();
  #seq = 0;
  #pumpQueued = false;
  #auto: boolean;
  #idleWaiters: Array<() => void> = [];

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

  /** Runs `fire` after `delayNs` of virtual time. */
  setTimer(delayNs: number, fire: () => void): TimerHandle {
    const timer: Timer = {
      at: this.clock.now + Math.max(0, delayNs),
      seq: this.#seq++,
      fire,
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

  /** Sends a message over `link`, delivered no earlier than `latencyNs` from now. */
  post(link: string, label: string, deliver: () => void, latencyNs = 0): void {
    const message: FabricMessage = { link, label, readyAt: this.clock.now + latencyNs, deliver };
    this.fabric.post(message);
    this.#kick();
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
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#kick(true);
    });
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
    for (const w of waiters) w();
  }
}
