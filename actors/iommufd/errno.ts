/**
 * Linux errno values used by iommufd, and the one error type the public API throws.
 * @see include/uapi/asm-generic/errno-base.h, errno.h
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  ERANGE: 34,
  EBADE: 52,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  EOVERFLOW: 75,
  EBADFD: 77,
  ETIMEDOUT: 110,
} as const;

/** An errno name: `'EINVAL'`, `'ENOENT'` ... */
export type Errno = keyof typeof ERRNO;

/** Fields the kernel writes back to userspace even when the call fails. */
export type ErrorOut = Record<string, number | bigint>;

const TAG: unique symbol = Symbol.for('iommu-farm/IommufdError') as never;

/**
 * A failed system call: what userspace sees as `-1` with `errno` set.
 * Recognised without `instanceof` via {@link IommufdError.is}, so errors survive module duplication.
 */
export class IommufdError extends Error {
  readonly [TAG] = true;
  readonly errno: Errno;
  readonly code: number;
  ioctl: string | undefined;
  out: ErrorOut | undefined;

  constructor(errno: Errno, detail?: string, opts: { ioctl?: string; out?: ErrorOut } = {}) {
    const where = opts.ioctl ? `${opts.ioctl}: ` : '';
    super(`${where}${errno}${detail ? ` (${detail})` : ''}`);
    this.name = 'IommufdError';
    this.errno = errno;
    this.code = ERRNO[errno];
    this.ioctl = opts.ioctl;
    this.out = opts.out;
  }

  /** True for an IommufdError from any copy of this module. */
  static is(err: unknown): err is IommufdError {
    return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[TAG] === true;
  }
}

/** Throws the kernel's errno: the simulated kernel's `return -EINVAL;`. */
export function fail(errno: Errno, detail?: string): never {
  throw new IommufdError(errno, detail);
}

/** The kernel's `if (cond) return -errno;` as one line. */
export function check(cond: unknown, errno: Errno, detail?: string): asserts cond {
  if (!cond) throw new IommufdError(errno, detail);
}

/** A broken internal invariant: the simulator's WARN_ON. Never an errno the user caused. */
export class SimulatorBug extends Error {
  constructor(message: string) {
    super(`iommu-farm internal invariant broken: ${message}`);
    this.name = 'SimulatorBug';
  }
}

export function warnOn(cond: boolean, message: string): void {
  if (cond) throw new SimulatorBug(message);
}
