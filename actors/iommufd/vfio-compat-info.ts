import type { IommufdCtx } from './ctx.ts';
import type { Ioas } from './ioas.ts';
import {
  vfio_iommu_type1_info,
  vfio_iommu_type1_info_cap_iova_range,
  vfio_iommu_type1_info_dma_avail,
  vfio_iova_range,
} from './uapi-structs-vfio.ts';
import {
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
} from './uapi-vfio.ts';
import { getCompatIoas, readVfioArg } from './vfio-ioas.ts';

/** Writes a capability at `va` if it fits in `avail` bytes; returns its size either way. */
type FillCap = (ctx: IommufdCtx, ioas: Ioas, va: bigint, avail: number) => number;

/**
 * `iommufd_vfio_iommu_get_info`: the info struct, then a capability chain (DMA_AVAIL, then
 * IOVA_RANGE) placed after it. Caps that do not fit in `argsz` are skipped but still counted:
 * `argsz` comes back as the size needed for all of them, and `cap_offset` stays 0 unless they
 * all fit. Only min(argsz, sizeof) bytes of the struct itself are written.
 */
export function vfioIommuGetInfo(ctx: IommufdCtx, arg: bigint | null): number {
  const info = readVfioArg(
    ctx,
    arg,
    vfio_iommu_type1_info,
    vfio_iommu_type1_info.offsetofend('iova_pgsizes'),
  );
  const va = arg!;
  const minsz = Math.min(info.argsz, vfio_iommu_type1_info.sizeof);
  const ioas = getCompatIoas(ctx);
  const mm = ctx.env.process.mm;
  info.flags = VFIO_IOMMU_INFO_PGSIZES;
  // iommufd_get_pagesizes(): qemu only looks at the lowest bit, the IOAS alignment.
  info.iova_pgsizes = ioas.iopt.iovaAlignment;
  info.cap_offset = 0;
  const fills: FillCap[] = [fillCapDmaAvail, fillCapIova];
  let total = vfio_iommu_type1_info.sizeof;
  let lastCap: bigint | undefined;
  for (const fill of fills) {
    const avail = info.argsz > total ? info.argsz - total : 0;
    const size = alignUp8(fill(ctx, ioas, va + BigInt(total), avail));
    if (lastCap !== undefined && info.argsz >= total) mm.write(lastCap + 4n, u32(total));
    lastCap = va + BigInt(total);
    total += size;
  }
  if (info.argsz >= total) info.cap_offset = vfio_iommu_type1_info.sizeof;
  info.argsz = total;
  info.flags |= VFIO_IOMMU_INFO_CAPS;
  ctx.env.host.failNth.point('usercopy', 'vfio_iommu_info');
  mm.write(va, vfio_iommu_type1_info.encode(info).subarray(0, minsz));
  return 0;
}

/** `iommufd_fill_cap_dma_avail`: iommufd has no DMA mapping count limit, so U32_MAX. */
function fillCapDmaAvail(ctx: IommufdCtx, _ioas: Ioas, va: bigint, avail: number): number {
  const layout = vfio_iommu_type1_info_dma_avail;
  if (avail >= layout.sizeof) {
    const cap = layout.encode({
      header: { id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1 },
      avail: 0xffff_ffff,
    });
    ctx.env.process.mm.write(va, cap);
  }
  return layout.sizeof;
}

/**
 * `iommufd_fill_cap_iova`: the holes of the reserved ranges, as IOMMU_IOAS_IOVA_RANGES reports
 * them. Each range is written if it fits, the header only if all of them do.
 */
function fillCapIova(ctx: IommufdCtx, ioas: Ioas, va: bigint, avail: number): number {
  const head = vfio_iommu_type1_info_cap_iova_range;
  const mm = ctx.env.process.mm;
  let n = 0;
  for (const hole of ioas.iopt.usableRanges()) {
    if (avail >= head.sizeof + (n + 1) * vfio_iova_range.sizeof) {
      const at = va + BigInt(head.sizeof + n * vfio_iova_range.sizeof);
      mm.write(at, vfio_iova_range.encode({ start: hole.start, end: hole.last }));
    }
    n++;
  }
  const size = head.sizeof + n * vfio_iova_range.sizeof;
  if (avail >= size) {
    mm.write(
      va,
      head.encode({ header: { id: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1 }, nr_iovas: n }),
    );
  }
  return size;
}

function alignUp8(n: number): number {
  return (n + 7) & ~7;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}
