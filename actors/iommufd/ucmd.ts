import type { IommufdCtx } from './ctx.ts';
import type { IommufdObject } from './object.ts';
import type { StructLayout } from './struct.ts';

/**
 * `struct iommufd_ucmd`: one ioctl in flight. Handlers read and update `cmd`, call `respond()`
 * to copy it back as the kernel's `iommufd_ucmd_respond`, and leave any object they create in
 * `newObj` so the dispatcher finalizes it on success and aborts it on failure.
 */
export class Ucmd<T extends object> {
  newObj: IommufdObject | undefined;
  readonly #onSuccess: Array<() => void> = [];
  readonly #onFailure: Array<() => void> = [];

  constructor(
    readonly ctx: IommufdCtx,
    readonly cmd: T,
    readonly layout: StructLayout<T>,
    readonly userSize: number,
    readonly ubuffer: bigint,
  ) {}

  /** Copies `cmd` back: min(user size, sizeof) bytes; EFAULT if userspace memory went away. */
  respond(): void {
    this.ctx.env.host.failNth.point('usercopy', 'ucmd_respond');
    const n = Math.min(this.userSize, this.layout.sizeof);
    const bytes = this.layout.encode(this.cmd as never).subarray(0, n);
    this.ctx.env.process.mm.write(this.ubuffer, bytes);
  }

  /** Runs after the ioctl succeeded and its object was finalized (e.g. fd_install). */
  onSuccess(fn: () => void): void {
    this.#onSuccess.push(fn);
  }

  /** Runs if the ioctl failed after this point, in reverse order (the kernel's goto labels). */
  onFailure(fn: () => void): void {
    this.#onFailure.push(fn);
  }

  /** @internal */
  settle(ok: boolean): void {
    if (ok) for (const fn of this.#onSuccess) fn();
    else for (const fn of this.#onFailure.reverse()) fn();
  }
}

/** An ioctl body; a number result is the ioctl's return value (e.g. a new fd). */
export type Handler<T extends object> = (ucmd: Ucmd<T>) => void | number | Promise<void | number>;
