import { PAGE_SIZE_N } from '../mem/page.ts';
import type { IommufdCtx } from './ctx.ts';
import { fail, IommufdError } from './errno.ts';
import { ULONG_MAX } from './io-pagetable.ts';
import type { Ioas } from './ioas.ts';
import { mapProt, unmapAll } from './ioas.ts';
import { ioptCutIova } from './iopt-cut.ts';
import { ioptMapPages, ioptUnmapRange } from './iopt-map.ts';
import { ioptDisableLargePages } from './option.ts';
import { IoptPages } from './pages.ts';
import { IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE } from './uapi-iommufd.ts';
import { vfio_iommu_type1_dma_map, vfio_iommu_type1_dma_unmap } from './uapi-structs-vfio.ts';
import {
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
} from './uapi-vfio.ts';
import { vfioIommuGetInfo } from './vfio-compat-info.ts';
import { getCompatIoas, readVfioArg } from './vfio-ioas.ts';

const U64_MASK = (1n << 64n) - 1n;

const NAMES: Record<number, string> = {
  [VFIO_GET_API_VERSION]: 'VFIO_GET_API_VERSION',
  [VFIO_CHECK_EXTENSION]: 'VFIO_CHECK_EXTENSION',
  [VFIO_SET_IOMMU]: 'VFIO_SET_IOMMU',
  [VFIO_IOMMU_GET_INFO]: 'VFIO_IOMMU_GET_INFO',
  [VFIO_IOMMU_MAP_DMA]: 'VFIO_IOMMU_MAP_DMA',
  [VFIO_IOMMU_UNMAP_DMA]: 'VFIO_IOMMU_UNMAP_DMA',
};

/**
 * `iommufd_vfio_ioctl`: the VFIO type1 container API on /dev/iommu, acting on the compat IOAS
 * (IOMMU_VFIO_IOAS). VFIO_CHECK_EXTENSION and VFIO_SET_IOMMU take an integer, not a pointer.
 * Anything else, VFIO_IOMMU_DIRTY_PAGES included, is ENOTTY.
 */
export async function vfioCompatIoctl(ctx: IommufdCtx, cmd: number, arg: bigint | null): Promise<number> {
  const name = NAMES[cmd];
  if (!name) fail('ENOTTY', `unknown ioctl 0x${cmd.toString(16)}`);
  try {
    return await dispatch(ctx, cmd, arg);
  } catch (err) {
    if (IommufdError.is(err) && err.ioctl === undefined) {
      err.ioctl = name;
      err.message = `${name}: ${err.message}`;
    }
    throw err;
  }
}

async function dispatch(ctx: IommufdCtx, cmd: number, arg: bigint | null): Promise<number> {
  switch (cmd) {
    case VFIO_GET_API_VERSION:
      return VFIO_API_VERSION;
    case VFIO_SET_IOMMU:
      return vfioSetIommu(ctx, arg ?? 0n);
    case VFIO_CHECK_EXTENSION:
      return vfioCheckExtension(ctx, arg ?? 0n);
    case VFIO_IOMMU_GET_INFO:
      return vfioIommuGetInfo(ctx, arg);
    case VFIO_IOMMU_MAP_DMA:
      return vfioMapDma(ctx, arg);
    default:
      return vfioUnmapDma(ctx, arg);
  }
}

/** `iommufd_vfio_check_extension`: 1 for what the emulation supports, else 0. */
function vfioCheckExtension(ctx: IommufdCtx, type: bigint): number {
  switch (type) {
    case BigInt(VFIO_TYPE1_IOMMU):
    case BigInt(VFIO_TYPE1v2_IOMMU):
    case BigInt(VFIO_UNMAP_ALL):
      return 1;
    case BigInt(VFIO_DMA_CC_IOMMU):
      return vfioCcIommu(getCompatIoas(ctx));
    default:
      // NOIOMMU (not configured), the reserved nesting type, UPDATE_VADDR (unsafe to emulate).
      return 0;
  }
}

/**
 * `iommufd_vfio_cc_iommu`: 1 only if every HWPT of the IOAS enforces cache coherency. No
 * simulated driver reports IOMMU_CAP_ENFORCE_CACHE_COHERENCY (the mock does not), so any HWPT
 * makes it 0.
 */
function vfioCcIommu(ioas: Ioas): number {
  return ioas.hwptList.length === 0 ? 1 : 0;
}

/**
 * `iommufd_vfio_set_iommu`: TYPE1 and TYPE1v2 only (EINVAL), on an existing compat IOAS
 * (ENODEV). TYPE1 may unmap inside a mapping, which the kernel emulates by disabling large
 * pages (IOMMU_OPTION_HUGE_PAGES=0) so that no IOPTE spans a cut.
 */
function vfioSetIommu(ctx: IommufdCtx, type: bigint): number {
  if (type !== BigInt(VFIO_TYPE1_IOMMU) && type !== BigInt(VFIO_TYPE1v2_IOMMU))
    fail('EINVAL', `type ${type}`);
  const ioas = getCompatIoas(ctx);
  if (type === BigInt(VFIO_TYPE1_IOMMU)) ioptDisableLargePages(ioas);
  ctx.vfioType = Number(type);
  return 0;
}

/**
 * `iommufd_vfio_map_dma`: a FIXED map of user memory at `iova`. Unlike IOAS_MAP it does not
 * refuse a map without READ/WRITE itself: the prot reaches the drivers, and every page table
 * refuses it (EINVAL), so with a domain attached nothing is mapped.
 */
async function vfioMapDma(ctx: IommufdCtx, arg: bigint | null): Promise<number> {
  const map = readVfioArg(ctx, arg, vfio_iommu_type1_dma_map, vfio_iommu_type1_dma_map.offsetofend('size'));
  if (map.flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) fail('EINVAL', 'flags');
  const flags =
    (map.flags & VFIO_DMA_MAP_FLAG_READ ? IOMMU_IOAS_MAP_READABLE : 0) |
    (map.flags & VFIO_DMA_MAP_FLAG_WRITE ? IOMMU_IOAS_MAP_WRITEABLE : 0);
  const ioas = getCompatIoas(ctx);
  // iopt_alloc_user_pages()
  if (map.vaddr + map.size > ULONG_MAX) fail('EOVERFLOW', 'vaddr + size');
  if (map.size === 0n || map.size > ULONG_MAX - PAGE_SIZE_N) fail('EINVAL', `size ${map.size}`);
  const offset = map.vaddr % PAGE_SIZE_N;
  const source = { kind: 'user', mm: ctx.env.process.mm, base: map.vaddr - offset } as const;
  const writable = (flags & IOMMU_IOAS_MAP_WRITEABLE) !== 0;
  ctx.env.host.failNth.point('alloc', 'iopt_pages');
  const pages = new IoptPages(source, offset + map.size, writable, ctx.pinAccount());
  await ioptMapPages(ioas.iopt, [{ pages, startByte: offset, length: map.size }], mapProt(flags), map.iova);
  return 0;
}

/**
 * `iommufd_vfio_unmap_dma`. Unlike IOMMU_IOAS_UNMAP, a range with nothing mapped succeeds with
 * size 0. With large pages disabled (TYPE1) the range's ends are cut first, so a part of a
 * mapping can go; otherwise an area sticking out is ENOENT. `size` is written back with the
 * bytes unmapped, even when the unmap itself failed part way.
 */
async function vfioUnmapDma(ctx: IommufdCtx, arg: bigint | null): Promise<number> {
  const minsz = vfio_iommu_type1_dma_unmap.offsetofend('size');
  const unmap = readVfioArg(ctx, arg, vfio_iommu_type1_dma_unmap, minsz);
  if (unmap.flags & ~VFIO_DMA_UNMAP_FLAG_ALL) fail('EINVAL', 'flags');
  const ioas = getCompatIoas(ctx);
  const iopt = ioas.iopt;
  let unmapped = 0n;
  let error: unknown;
  if (unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
    if (unmap.iova !== 0n || unmap.size !== 0n) fail('EINVAL', 'UNMAP_FLAG_ALL needs iova = size = 0');
    try {
      unmapped = await unmapAll(ioas);
    } catch (err) {
      error = err;
    }
  } else {
    if (iopt.disableLargePages) {
      const cuts = [(unmap.iova + unmap.size - 1n) & U64_MASK, (unmap.iova - 1n) & U64_MASK];
      ioptCutIova(iopt, unmap.iova ? cuts : cuts.slice(0, 1));
    }
    const before = mappedBytes(ioas, unmap.iova, unmap.size);
    try {
      unmapped = await unmapIova(ioas, unmap.iova, unmap.size);
    } catch (err) {
      error = err;
      unmapped = before - mappedBytes(ioas, unmap.iova, unmap.size);
    }
  }
  unmap.size = unmapped;
  ctx.env.host.failNth.point('usercopy', 'vfio_unmap_size');
  ctx.env.process.mm.write(arg!, vfio_iommu_type1_dma_unmap.encode(unmap).subarray(0, minsz));
  if (error !== undefined) throw error;
  return 0;
}

/** `iopt_unmap_iova` with VFIO's rule that an empty range is not an error. */
async function unmapIova(ioas: Ioas, iova: bigint, size: bigint): Promise<bigint> {
  if (size === 0n) fail('EINVAL', 'size 0');
  const last = iova + size - 1n;
  if (last > ULONG_MAX) fail('EOVERFLOW', 'iova + size');
  if (!ioas.iopt.areas.intersects(iova, last)) return 0n;
  return ioptUnmapRange(ioas.iopt, iova, last);
}

/** Bytes of the areas touching [iova, iova+size): what a failed unmap already removed is the drop. */
function mappedBytes(ioas: Ioas, iova: bigint, size: bigint): bigint {
  if (size === 0n) return 0n;
  const last = iova + size - 1n;
  if (last > ULONG_MAX) return 0n;
  let n = 0n;
  for (let node = ioas.iopt.areas.firstIntersecting(iova, last); node && node.start <= last; ) {
    n += node.value.length;
    node = ioas.iopt.areas.next(node);
  }
  return n;
}
