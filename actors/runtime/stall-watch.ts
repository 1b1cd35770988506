import { FarmStalledError } from './farm-errors.ts';

/** A promise that tells its watcher when someone awaits it (`await`, `then`, `catch`, `finally`). */
class Watched<T> extends Promise<T> {
  // Chained promises are plain ones: only the promise a call returns is watched.
  static override get [Symbol.species]() {
    return Promise;
  }

  onAwait: (() => void) | undefined;

  // biome-ignore lint/suspicious/noThenProperty: the hook is the point; it forwards to Promise.then.
  override then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    const hook = this.onAwait;
    this.onAwait = undefined;
    hook?.();
    return super.then(onFulfilled, onRejected);
  }
}

/**
 * Finds calls that wait on a manual-mode farm nobody drives. A watched promise that is awaited
 * while pending arms a check one macrotask later: if by then the scheduler has not stepped and
 * no driver (`settle()`, a props driver) holds it, the promise rejects with FarmStalledError.
 * Stepping or a driver re-arms the check, so a slow but driven call is never cut off. Everything
 * hangs on the event loop's order, not on time, so it is deterministic.
 */
export class StallWatch {
  #steps = 0;
  #drivers = 0;

  constructor(private readonly manual: () => boolean) {}

  /** Called once per scheduler step. */
  noteStep(): void {
    this.#steps++;
  }

  /** Marks the farm as driven until the returned release is called (idempotent). */
  hold(): () => void {
    this.#drivers++;
    let held = true;
    return () => {
      if (held) this.#drivers--;
      held = false;
    };
  }

  /** `inner`, rejecting with FarmStalledError if it is awaited and nothing drives the farm. */
  watch<T>(call: string, inner: Promise<T>): Promise<T> {
    let pending = true;
    let rejectOuter!: (err: unknown) => void;
    const outer = new Watched<T>((resolve, reject) => {
      rejectOuter = reject;
      inner.then(
        (v) => {
          pending = false;
          resolve(v);
        },
        (err) => {
          pending = false;
          reject(err);
        },
      );
    });
    outer.onAwait = () => {
      if (pending && this.manual()) this.#arm(call, () => pending, rejectOuter);
    };
    return outer;
  }

  #arm(call: string, isPending: () => boolean, reject: (err: unknown) => void): void {
    const steps = this.#steps;
    setImmediate(() => {
      if (!isPending() || !this.manual()) return;
      if (this.#drivers > 0 || this.#steps !== steps) this.#arm(call, isPending, reject);
      else reject(new FarmStalledError(call));
    });
  }
}
