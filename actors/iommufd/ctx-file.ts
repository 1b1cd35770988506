import type { IommufdCtx } from './ctx.ts';

/**
 * References on the /dev/iommu file (`iommufd_ctx_get/put` on `ictx->file`), kept by the ctx.
 * The fd is one; anon fds (fault, vEVENTQ), VFIO bindings and vIOMMU mmaps take more, so closing
 * the iommufd fd while one of them lives defers the ctx teardown, as in the kernel (their
 * objects are still referenced then).
 */
export function ctxFileGet(ctx: IommufdCtx): void {
  ctx.holdFile();
}

/** Drops one reference; the last one runs the ctx's release (`ctx.whenClosed` settles after it). */
export function ctxFilePut(ctx: IommufdCtx): void {
  void ctx.releaseFile();
}
