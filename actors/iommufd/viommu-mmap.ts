import { PROT_EXEC } from '../mem/address-space.ts';
import type { MmapBacking, MmapRequest } from '../mem/file-table.ts';
import { isAligned, PAGE_SIZE_N } from '../mem/page.ts';
import type { IommufdCtx } from './ctx.ts';
import { ctxFileGet, ctxFilePut } from './ctx-file.ts';
import { fail } from './errno.ts';
import { ULONG_MAX } from './io-pagetable.ts';
import type { IommufdObject } from './object.ts';

/** `struct iommufd_mmap`: a driver's MMIO (or memory) region userspace may mmap through /dev/iommu. */
interface MmapRegion {
  readonly offset: bigint;
  readonly length: bigint;
  readonly pfn: bigint;
  /** The object the VMA keeps alive (a vIOMMU). */
  readonly owner: IommufdObject;
}

/** `ictx->mt_mmap`, per ctx, sorted by offset. */
const TREES = new WeakMap<IommufdCtx, MmapRegion[]>();

function tree(ctx: IommufdCtx): MmapRegion[] {
  let t = TREES.get(ctx);
  if (!t) TREES.set(ctx, (t = []));
  return t;
}

/**
 * `_iommufd_alloc_mmap`: registers [pa, pa+length) and returns its mmap offset, the lowest free
 * range of the ctx's offset space from PAGE_SIZE up (`mtree_alloc_range`).
 */
export function mmapRegionAlloc(ctx: IommufdCtx, owner: IommufdObject, pa: bigint, length: bigint): bigint {
  if (length === 0n || !isAligned(pa, PAGE_SIZE_N) || !isAligned(length, PAGE_SIZE_N)) {
    fail('EINVAL', 'mmap region must be non-empty and page aligned');
  }
  const regions = tree(ctx);
  let start = PAGE_SIZE_N;
  let at = 0;
  for (; at < regions.length; at++) {
    const r = regions[at]!;
    if (r.offset - start >= length) break;
    start = r.offset + r.length;
  }
  if (start + length - 1n > ULONG_MAX) fail('ENOSPC', 'mmap offset space exhausted');
  regions.splice(at, 0, { offset: start, length, pfn: pa / PAGE_SIZE_N, owner });
  return start;
}

/** `iommufd_viommu_destroy_mmap` for every region of `owner`. */
export function mmapRegionsDestroy(ctx: IommufdCtx, owner: IommufdObject): void {
  const regions = TREES.get(ctx);
  if (!regions) return;
  for (let i = regions.length - 1; i >= 0; i--) if (regions[i]!.owner === owner) regions.splice(i, 1);
}

/** Offsets of the regions `owner` registered (for tests and tools). */
export function mmapRegionsOf(ctx: IommufdCtx, owner: IommufdObject): bigint[] {
  return (TREES.get(ctx) ?? []).filter((r) => r.owner === owner).map((r) => r.offset);
}

/**
 * `iommufd_fops_mmap`: a shared, non-executable mapping of exactly one registered region. The
 * VMA is VM_PFNMAP (never pinnable) and holds a users reference on the region's owner, plus the
 * file, for as long as it (or any piece of it after a split) exists.
 */
export function iommufdFopsMmap(ctx: IommufdCtx, req: MmapRequest): MmapBacking {
  if (!isAligned(req.length, PAGE_SIZE_N)) fail('EINVAL', 'length is not page aligned');
  if (!req.shared) fail('EINVAL', 'iommufd regions must be mapped MAP_SHARED');
  if (req.prot & PROT_EXEC) fail('EPERM', 'iommufd regions are not executable');
  const region = (TREES.get(ctx) ?? []).find(
    (r) => req.offset >= r.offset && req.offset < r.offset + r.length,
  );
  if (!region || region.offset !== req.offset || region.length !== req.length) {
    fail('ENXIO', `no region at offset 0x${req.offset.toString(16)} of length 0x${req.length.toString(16)}`);
  }
  const pgoff = region.offset / PAGE_SIZE_N;
  const npages = region.length / PAGE_SIZE_N;
  return {
    pfnmap: true,
    frameAt(pageIndex) {
      const i = pageIndex - pgoff;
      if (i < 0n || i >= npages) fail('EFAULT', 'beyond the iommufd region');
      return region.pfn + i;
    },
    attach() {
      region.owner.get();
      ctxFileGet(ctx);
    },
    detach() {
      region.owner.put();
      ctxFilePut(ctx);
    },
  };
}
