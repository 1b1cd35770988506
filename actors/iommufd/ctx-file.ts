import type { IommufdCtx } from './ctx.ts';

interface Hold {
  refs: number;
  readonly release: () => void;
}

/** Keyed by the ctx itself, so each /dev/iommu open has its own count and nothing outlives it. */
const HOLDS = new WeakMap<IommufdCtx, Hold>();

/**
 * The /dev/iommu file's reference count (`iommufd_ctx_get/put` on `ictx->file`). The fd is one
 * reference; anon fds (fault, vEVENTQ) and vIOMMU mmaps take more, so closing the iommufd fd
 * while one of them lives defers the ctx teardown, as in the kernel (their objects are still
 * referenced then, and destroying the ctx would have to free busy objects).
 */
export function ctxFileOpen(ctx: IommufdCtx, release: () => void): void {
  HOLDS.set(ctx, { refs: 1, release });
}

export function ctxFileGet(ctx: IommufdCtx): void {
  const hold = HOLDS.get(ctx);
  if (hold) hold.refs++;
}

/** Drops one reference; the last one runs the file's release (the ctx teardown). */
export function ctxFilePut(ctx: IommufdCtx): void {
  const hold = HOLDS.get(ctx);
  if (!hold) return;
  if (hold.refs <= 0) throw new Error('iommufd: ctx file reference underflow');
  if (--hold.refs === 0) hold.release();
}
