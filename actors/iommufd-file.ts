import type { Observable } from 'rxjs';
import type { IommufdCtx } from './iommufd/ctx.ts';
import { fail } from './iommufd/errno.ts';
import { IOCTLS } from './iommufd/ioctl-table.ts';
import { iommufdFopsMmap } from './iommufd/viommu-mmap.ts';
import type { MmapBacking, MmapRequest, OpenFile } from './mem/file-table.ts';
import type { Process } from './process.ts';
import type { IoctlInput, IoctlName, IoctlOutput } from './uapi/ioctl-types.ts';
import { type TypedIoctlTable, typedFileIoctl } from './uapi/typed-call.ts';
import { VFIO_COMPAT_IOCTLS, type VfioCompatIoctlName } from './uapi/vfio-ioctls.ts';

/** The typed calls /dev/iommu takes: its own, and the VFIO type1 container calls it emulates. */
export type IommufdIoctlName = IoctlName | VfioCompatIoctlName;

const TYPED: TypedIoctlTable = {
  ...IOCTLS,
  ...VFIO_COMPAT_IOCTLS,
};

/** The /dev/iommu file: ioctls go to the ctx; mmap exposes vIOMMU regions. */
export class IommufdFile implements OpenFile {
  readonly kind = 'iommufd';
  /** Set by the vIOMMU module: resolves an mmap offset to the region it names. */
  mmapHandler: ((req: MmapRequest) => MmapBacking) | undefined;
  readonly readable$?: Observable<boolean>;

  constructor(readonly ctx: IommufdCtx) {
    this.mmapHandler = (req) => iommufdFopsMmap(ctx, req);
  }

  mmap(req: MmapRequest): MmapBacking {
    if (!this.mmapHandler) fail('ENXIO', 'no mmap region at this offset');
    return this.mmapHandler(req);
  }

  /** The fd's reference; anon fds and mmaps may keep the ctx open past it, as their vm_file/ictx refs do. */
  release(): void {
    void this.ctx.releaseFile();
  }

  get closed(): Promise<void> {
    return this.ctx.whenClosed;
  }
}

/** A process's handle on one open /dev/iommu (one `iommufd_ctx`). */
export class Iommufd {
  constructor(
    readonly process: Process,
    readonly fd: number,
    readonly file: IommufdFile,
  ) {}

  get ctx(): IommufdCtx {
    return this.file.ctx;
  }

  /**
   * The typed ioctl: `await iommufd.ioctl('IOMMU_IOAS_MAP', { flags, ioas_id, user_va, length })`
   * resolves to the output fields (`{ iova }`) or rejects with an IommufdError.
   */
  ioctl<N extends IommufdIoctlName>(name: N, fields: IoctlInput<N>): Promise<IoctlOutput<N>> {
    // Not async: the caller gets the watched promise itself (see Scheduler.watch).
    const call = typedFileIoctl(this.process.mm, TYPED, name, fields as Record<string, unknown>, (cmd, va) =>
      this.#ioctl(cmd, va),
    );
    return this.process.host.farm.scheduler.watch(name, call) as Promise<IoctlOutput<N>>;
  }

  /** ioctl(fd, cmd, arg) with `arg` a user VA (or null), exactly as C calls it. */
  ioctlRaw(cmd: number, arg: bigint | null): Promise<number> {
    const call = `ioctl(${this.fd}, 0x${cmd.toString(16)})`;
    return this.process.host.farm.scheduler.watch(call, this.#ioctl(cmd, arg));
  }

  #ioctl(cmd: number, arg: bigint | null): Promise<number> {
    this.process.checkFd(this.fd, this.file);
    return this.ctx.ioctl(cmd, arg);
  }

  /**
   * Closes the fd; resolves once every object of the ctx is destroyed, which waits for the anon
   * fds (fault, vEVENTQ, access) that also hold the ctx to be closed.
   */
  async close(): Promise<void> {
    this.process.close(this.fd);
    await this.file.closed;
  }
}
