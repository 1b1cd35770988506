import type { IommuGroup } from '../kernel/iommu-core.ts';
import type { IommufdEnv } from './env.ts';
import { IommufdError } from './errno.ts';
import type { IommufdGroup } from './igroup.ts';
import type { Ioas } from './ioas.ts';
import { dispatchIoctl, ioctlName } from './ioctl.ts';
import type { IommufdObject } from './object.ts';
import { ObjectTable } from './object-table.ts';
import type { PinAccount } from './pages.ts';

/** IOMMU_OPTION_RLIMIT_MODE: charge pins to the user (0) or to the mm (1). */
export type AccountMode = 'user' | 'mm';

/**
 * `struct iommufd_ctx`: one open of /dev/iommu. ioctls on one ctx run one at a time, which is
 * one of the interleavings the kernel's locks allow; DMA and hardware run concurrently.
 */
export class IommufdCtx {
  readonly objects: ObjectTable;
  readonly id: number;
  accountMode: AccountMode;
  /** The IOAS that VFIO type1 compat ioctls operate on. */
  vfioIoas: Ioas | undefined;
  /** VFIO compat: type1 (v1) allows unmap splitting, set by VFIO_SET_IOMMU. */
  vfioType: number | undefined;
  readonly igroups = new Map<IommuGroup, IommufdGroup>();
  closed = false;
  #tail: Promise<unknown> = Promise.resolve();
  /** Open files that keep the ctx alive: /dev/iommu itself plus anon fds (fault, vEVENTQ, access). */
  #fileRefs = 1;
  #closing: Promise<void> | undefined;

  constructor(
    readonly env: IommufdEnv,
    opts: { vfioCompat?: boolean } = {},
  ) {
    this.objects = new ObjectTable(env.host.failNth);
    this.id = env.host.nextCtxId();
    // /dev/vfio/vfio opened as iommufd keeps VFIO's per-mm accounting.
    this.accountMode = opts.vfioCompat ? 'mm' : 'user';
  }

  /** `iommufd_fops_ioctl`: resolves to the ioctl's return value or rejects with an IommufdError. */
  ioctl(cmd: number, arg: bigint | null): Promise<number> {
    const run = this.#tail.then(() => this.#traced(cmd, arg));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #traced(cmd: number, arg: bigint | null): Promise<number> {
    const tracer = this.env.host.tracer;
    if (!tracer.on) return dispatchIoctl(this, cmd, arg);
    const emit = (errno?: string) =>
      tracer.emit({
        type: 'ioctl',
        t: this.env.host.scheduler.now,
        process: this.env.process.name,
        ctx: this.id,
        ioctl: ioctlName(cmd),
        ...(errno ? { errno } : {}),
      });
    try {
      const ret = await dispatchIoctl(this, cmd, arg);
      emit();
      return ret;
    } catch (err) {
      emit(IommufdError.is(err) ? err.errno : 'exception');
      throw err;
    }
  }

  /** Whom the pins of a new pages object are charged to, under the current RLIMIT_MODE. */
  pinAccount(): PinAccount {
    const { mm, user, memlockLimitPages, privileged } = this.env.process;
    const faults = this.env.host.faults;
    if (this.accountMode === 'user') {
      return { counter: user, limitPages: memlockLimitPages, pinned: mm.counters, faults };
    }
    return {
      counter: mm.counters,
      // account_locked_vm() lets CAP_IPC_LOCK past the limit.
      limitPages: privileged ? undefined : memlockLimitPages,
      pinned: mm.counters,
      faults,
    };
  }

  /** Objects of this ctx in ID order. */
  liveObjects(): IommufdObject[] {
    return [...this.objects.objects()];
  }

  /** An anon file (fault fd, vEVENTQ fd, selftest access fd) that holds the ctx (`iommufd_ctx_get`). */
  holdFile(): void {
    this.#fileRefs++;
  }

  /**
   * Drops a file reference; the last one releases the ctx, as the kernel's release runs only
   * once /dev/iommu and every anon fd that holds the ctx are closed.
   */
  releaseFile(): Promise<void> {
    if (this.#fileRefs <= 0) throw new Error('iommufd ctx file reference underflow');
    if (--this.#fileRefs === 0) this.#closing = this.close();
    return this.#closing ?? Promise.resolve();
  }

  /** Resolves once the ctx has been released. */
  get whenClosed(): Promise<void> {
    return this.#closing ?? Promise.resolve();
  }

  get fileRefs(): number {
    return this.#fileRefs;
  }

  /** `iommufd_fops_release`: destroys every object, leaf first. Never fails. */
  close(): Promise<void> {
    const run = this.#tail.then(async () => {
      if (this.closed) return;
      this.closed = true;
      // Release cannot fail: a driver error on one object is a WARN, and the rest still goes.
      await this.objects.destroyAll(async (obj) => {
        this.objects.remove(obj);
        try {
          await obj.destroy();
        } catch (err) {
          this.env.host.core.warnings.push(`releasing ${obj.type} ${obj.id}: ${String(err)}`);
        }
      });
      this.vfioIoas = undefined;
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
