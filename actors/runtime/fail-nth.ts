import { type Errno, IommufdError } from '../iommufd/errno.ts';

/**
 * What an injection point stands for, and so how it fails:
 * - `alloc`: a struct or ID allocation (kzalloc, xa_alloc): ENOMEM.
 * - `pin`: pinning user or file pages (pin_user_pages, memfd_pin_folios): ENOMEM.
 * - `usercopy`: copy_from_user / copy_to_user of ioctl arguments and arrays: EFAULT.
 * - `driver`: an IOMMU driver op the core calls (domain alloc, attach, map, ...): the driver's
 *   errno, ENOMEM unless the point says otherwise.
 * - `table`: page-table or context memory a driver allocates: ENOMEM.
 */
export type FailKind = 'alloc' | 'pin' | 'usercopy' | 'driver' | 'table';

export const FAIL_KINDS: readonly FailKind[] = ['alloc', 'pin', 'usercopy', 'driver', 'table'];

const DEFAULT_ERRNO: Readonly<Record<FailKind, Errno>> = {
  alloc: 'ENOMEM',
  pin: 'ENOMEM',
  usercopy: 'EFAULT',
  driver: 'ENOMEM',
  table: 'ENOMEM',
};

/** One point reached while armed. */
export interface FailPoint {
  readonly kind: FailKind;
  readonly name: string;
}

/**
 * Copy-outs that run after an ioctl did its work: the kernel returns EFAULT there but keeps the
 * work (IOAS_MAP keeps the mapping), so a caller that needs all-or-nothing skips them.
 */
export const COPY_OUT_POINTS: ReadonlySet<string> = new Set([
  'ucmd_respond',
  'iova_ranges',
  'option_val64',
  'hw_info_data',
  'viommu_out_data',
  'vfio_unmap_size',
  'vfio_iommu_info',
  'dirty_bitmap',
]);

export interface FailNthArmOptions {
  /** Only points of these kinds count (default: all). */
  readonly kinds?: readonly FailKind[];
  /** Copy-outs after the work is done (COPY_OUT_POINTS) do not count. */
  readonly skipCopyOut?: boolean;
}

/** What an armed window saw: the point that failed, if any, and every point counted before it. */
export interface FailNthReport {
  readonly injected: (FailPoint & { readonly errno: Errno; readonly n: number }) | undefined;
  readonly reached: readonly FailPoint[];
}

/**
 * The farm's `fail_nth`: `arm(n)` makes the n-th injection point reached from then on fail, once,
 * with the errno the kernel returns there. A run that ends with nothing injected reached fewer
 * than n points, so a test iterates n = 1, 2, … until `disarm().injected` is undefined, as the
 * kernel's iommufd_fail_nth selftest does. Disarmed, a point is a single counter compare.
 */
export class FailNth {
  #left = 0;
  #kinds: ReadonlySet<FailKind> | undefined;
  #skipCopyOut = false;
  #n = 0;
  #reached: FailPoint[] = [];
  #injected: FailNthReport['injected'];

  get armed(): boolean {
    return this.#left > 0;
  }

  arm(n: number, opts: FailNthArmOptions = {}): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`fail-nth: n must be an integer ≥ 1, got ${n}`);
    this.#left = n;
    this.#n = n;
    this.#kinds = opts.kinds ? new Set(opts.kinds) : undefined;
    this.#skipCopyOut = opts.skipCopyOut ?? false;
    this.#reached = [];
    this.#injected = undefined;
  }

  /** Stops injecting; reports what the armed window saw. */
  disarm(): FailNthReport {
    const report = { injected: this.#injected, reached: this.#reached };
    this.#left = 0;
    this.#kinds = undefined;
    this.#reached = [];
    this.#injected = undefined;
    return report;
  }

  /** An injection point: throws the point's IommufdError when it is the armed n-th one. */
  point(kind: FailKind, name: string, errno?: Errno): void {
    if (this.#left === 0) return;
    if (this.#kinds !== undefined && !this.#kinds.has(kind)) return;
    if (this.#skipCopyOut && COPY_OUT_POINTS.has(name)) return;
    this.#reached.push({ kind, name });
    if (--this.#left > 0) return;
    const e = errno ?? DEFAULT_ERRNO[kind];
    this.#injected = { kind, name, errno: e, n: this.#n };
    throw new IommufdError(e, `fail-nth: injected at ${kind}:${name}`);
  }
}

/** For components built without a farm (unit tests): cannot be armed. */
class NeverFails extends FailNth {
  override arm(): void {
    throw new Error('fail-nth: this component has no farm to inject into');
  }
}

export const NEVER_FAILS: FailNth = new NeverFails();
