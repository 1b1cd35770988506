import type { OpenFile } from '../mem/file-table.ts';
import type { IommufdCtx } from './ctx.ts';
import { ctxFileGet, ctxFilePut } from './ctx-file.ts';
import type { IommufdObject } from './object.ts';
import type { Ucmd } from './ucmd.ts';

/**
 * The anon inode file behind a FAULT or vEVENTQ fd (`iommufd_eventq_init`). It holds a users
 * reference on its object (DESTROY is EBUSY until close) and one on the ctx's file, both taken
 * only once the ioctl succeeded, so a failed allocation leaves nothing behind.
 */
export abstract class AnonObjectFile implements OpenFile {
  abstract readonly kind: string;
  #published = false;

  constructor(readonly obj: IommufdObject & { readonly ctx: IommufdCtx }) {}

  /** `fd_install`: the file now owns its references. */
  publish(): void {
    this.#published = true;
    this.obj.get();
    ctxFileGet(this.obj.ctx);
  }

  release(): void {
    if (!this.#published) return;
    this.#published = false;
    this.obj.put();
    ctxFilePut(this.obj.ctx);
  }
}

/**
 * `get_unused_fd_flags` now, `fd_install` on success: the number is taken at once (so the ioctl
 * can report it), and is given back if the ioctl fails after this point (`put_unused_fd`).
 */
export function reserveAnonFd(ucmd: Ucmd<object>, file: AnonObjectFile): number {
  const files = ucmd.ctx.env.process.files;
  const fd = files.install(file);
  ucmd.onFailure(() => files.close(fd));
  ucmd.onSuccess(() => file.publish());
  return fd;
}
