import { BehaviorSubject, distinctUntilChanged, map, type Observable, Subject } from 'rxjs';
import { IommufdError } from '../iommufd/errno.ts';

const EVENTFD_MAX = 0xffff_ffff_ffff_fffen;

/**
 * An eventfd: a 64-bit counter where a write adds and a read returns the count and clears it.
 * Completion interrupts arrive through these, so a burst of completions coalesces into one
 * wakeup carrying the total, as MSIs do behind a masked vector.
 *
 * `readable$` is poll(POLLIN) as a level; `interrupts$` delivers drained counts, each drain
 * deferred by `defer` (the farm scheduler) so writes in the same step coalesce.
 */
export class EventFd {
  readonly #count = new BehaviorSubject<bigint>(0n);
  readonly #drained = new Subject<bigint>();
  #drainQueued = false;

  readonly readable$: Observable<boolean> = this.#count.pipe(
    map((c) => c > 0n),
    distinctUntilChanged(),
  );

  /** Each emission is one interrupt: the count accumulated since the previous one. */
  readonly interrupts$: Observable<bigint> = this.#drained.asObservable();

  constructor(
    readonly name: string,
    private readonly defer?: (fn: () => void) => void,
  ) {}

  get count(): bigint {
    return this.#count.value;
  }

  /** Adds `n`; EAGAIN if the counter would pass 0xfffffffffffffffe, as a non-blocking eventfd. */
  write(n: bigint = 1n): void {
    if (n < 0n || n > EVENTFD_MAX) throw new IommufdError('EINVAL', `eventfd write of ${n}`);
    const next = this.#count.value + n;
    if (next > EVENTFD_MAX) throw new IommufdError('EAGAIN', 'eventfd counter would overflow');
    if (n === 0n) return;
    this.#count.next(next);
    if (this.defer && this.#drained.observed && !this.#drainQueued) {
      this.#drainQueued = true;
      this.defer(() => {
        this.#drainQueued = false;
        const c = this.read();
        if (c !== undefined) this.#drained.next(c);
      });
    }
  }

  /** Returns the count and clears it; undefined when zero (EAGAIN for a non-blocking read). */
  read(): bigint | undefined {
    const c = this.#count.value;
    if (c === 0n) return undefined;
    this.#count.next(0n);
    return c;
  }
}
