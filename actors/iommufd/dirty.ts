import type { DirtyOps, PagingDomain } from '../../vendors/driver.ts';
import { PAGE_SIZE_N } from '../mem/page.ts';
import type { IommufdCtx } from './ctx.ts';
import { fail } from './errno.ts';
import type { HwptPaging } from './hwpt-paging.ts';
import { hex, type IoPagetable } from './io-pagetable.ts';
import type { IoctlArg } from './ioctl-table.ts';
import {
  IOMMU_HWPT_DIRTY_TRACKING_ENABLE as ENABLE,
  IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR as NO_CLEAR,
} from './uapi-iommufd.ts';
import type { Ucmd } from './ucmd.ts';

const U64_MASK = (1n << 64n) - 1n;
/** iova_bitmap pins at most one page of page pointers' worth of bitmap per chunk. */
const BITMAP_CHUNK_PAGES = 512;

/**
 * IOMMU_HWPT_SET_DIRTY_TRACKING (`iommufd_hwpt_set_dirty_tracking`). Enabling first reads and
 * clears every area, so the first bitmap after enabling shows only new writes.
 */
export async function iommufdHwptSetDirtyTracking(
  ucmd: Ucmd<IoctlArg<'IOMMU_HWPT_SET_DIRTY_TRACKING'>>,
): Promise<void> {
  const { cmd, ctx } = ucmd;
  if (cmd.flags & ~ENABLE) fail('EOPNOTSUPP', 'flags');
  const hwpt = ctx.objects.get<HwptPaging>(cmd.hwpt_id, 'HWPT_PAGING');
  const enable = (cmd.flags & ENABLE) !== 0;
  const ops = dirtyOps(hwpt.domain);
  if (enable) await ioptClearDirtyData(hwpt.ioas.iopt, ops);
  ctx.env.host.failNth.point('driver', 'set_dirty_tracking');
  await ops.setTracking(enable);
}

function dirtyOps(domain: PagingDomain): DirtyOps {
  if (!domain.dirty) fail('EOPNOTSUPP', 'domain has no dirty tracking');
  return domain.dirty;
}

/** `iopt_clear_dirty_data`: read-and-clear over every area, discarding the result. */
async function ioptClearDirtyData(iopt: IoPagetable, ops: DirtyOps): Promise<void> {
  for (const node of [...iopt.areas.all()]) {
    const area = node.value;
    if (area.removing) continue;
    await ops.readAndClear(area.iova, area.length, false, () => {});
  }
}

/**
 * IOMMU_HWPT_GET_DIRTY_BITMAP (`iommufd_hwpt_get_dirty_bitmap`): ORs one bit per `page_size` of
 * [iova, iova+length) into the user's u64 bitmap at `data` (bit i ↔ iova + i*page_size); an
 * IOPTE that is dirty sets every bit it covers. The range must be backed by contiguous areas:
 * areas before a hole are still read (and cleared) before the EINVAL, as the kernel does.
 */
export async function iommufdHwptGetDirtyBitmap(
  ucmd: Ucmd<IoctlArg<'IOMMU_HWPT_GET_DIRTY_BITMAP'>>,
): Promise<void> {
  const { cmd, ctx } = ucmd;
  if (cmd.flags & ~NO_CLEAR || cmd.__reserved) fail('EOPNOTSUPP', 'flags or __reserved');
  const hwpt = ctx.objects.get<HwptPaging>(cmd.hwpt_id, 'HWPT_PAGING');
  const iopt = hwpt.ioas.iopt;
  const { iova, page_size: pageSize } = cmd;
  const last = checkIovaRange(iopt, iova, cmd.length, pageSize);
  const ops = dirtyOps(hwpt.domain);
  const bitmap = new UserBitmap(ctx, cmd.data, iova, last, pageSize);
  const noClear = (cmd.flags & NO_CLEAR) !== 0;
  const record = (at: bigint, size: bigint) => bitmap.set(at, size);
  // iova_bitmap: one chunk of the user's bitmap at a time, pinned (EFAULT) before the domain is
  // read for the IOVA it covers, so memory and time follow the bitmap the user really has.
  let cur = iova;
  for (let window = iova; ; ) {
    const windowLast = bitmap.pinWindow(window);
    for (;;) {
      const area = iopt.areas.lookup(cur)?.value;
      if (!area || area.removing) {
        bitmap.flush();
        fail('EINVAL', `[${hex(iova)}, ${hex(last)}] is not fully mapped at ${hex(cur)}`);
      }
      let to = windowLast;
      if (area.last < to) to = area.last;
      await ops.readAndClear(cur, to - cur + 1n, noClear, record);
      if (to === windowLast) break;
      cur = to + 1n;
    }
    bitmap.flush();
    if (windowLast === last) break;
    window = windowLast + 1n;
    cur = window;
  }
}

/** `iommufd_check_iova_range`: u64 arithmetic as in C, so a zero length wraps to the whole space. */
function checkIovaRange(iopt: IoPagetable, iova: bigint, length: bigint, pageSize: bigint): bigint {
  const last = iova + ((length - 1n) & U64_MASK);
  if (last > U64_MASK) fail('EOVERFLOW', 'iova + length overflows');
  const end = (last + 1n) & U64_MASK;
  const align = iopt.iovaAlignment - 1n;
  if (iova & align || end & align) fail('EINVAL', `range not aligned to ${iopt.iovaAlignment}`);
  if (pageSize === 0n) fail('EINVAL', 'page_size 0');
  if (iova & (pageSize - 1n) || end & (pageSize - 1n)) fail('EINVAL', `range not aligned to ${pageSize}`);
  return last;
}

/**
 * The user's bitmap (`struct iova_bitmap`): pinned writable before any domain is read (EFAULT on
 * a bad pointer), and only ever OR-ed into, so bits the caller left set stay set.
 */
class UserBitmap {
  readonly #words = new Map<bigint, bigint>();
  readonly #shift: bigint;

  constructor(
    readonly ctx: IommufdCtx,
    readonly data: bigint,
    readonly iova: bigint,
    readonly last: bigint,
    pageSize: bigint,
  ) {
    // The kernel shifts by __ffs(page_size).
    this.#shift = BigInt((pageSize & -pageSize).toString(2).length - 1);
  }

  /**
   * Pins the bitmap pages that cover IOVA from `start` (one chunk of BITMAP_CHUNK_PAGES at most;
   * EFAULT on a bad pointer) and returns the last IOVA they cover.
   */
  pinWindow(start: bigint): bigint {
    const firstBit = (start - this.iova) >> this.#shift;
    const lastBitAll = (this.last - this.iova) >> this.#shift;
    const firstByte = this.data + (firstBit / 64n) * 8n;
    const pageVa = firstByte - (firstByte % PAGE_SIZE_N);
    // Bits whose words lie in the chunk's pages.
    const chunkEnd = pageVa + BigInt(BITMAP_CHUNK_PAGES) * PAGE_SIZE_N;
    const lastWord = (chunkEnd - this.data) / 8n - 1n;
    let lastBit = lastWord * 64n + 63n;
    if (lastBit > lastBitAll) lastBit = lastBitAll;
    const endByte = this.data + (lastBit / 64n) * 8n + 8n;
    const pages = Number((endByte - pageVa + PAGE_SIZE_N - 1n) / PAGE_SIZE_N);
    const mm = this.ctx.env.process.mm;
    mm.unpinPages(mm.pinPages(pageVa, pages, true));
    if (lastBit === lastBitAll) return this.last;
    return this.iova + ((lastBit + 1n) << this.#shift) - 1n;
  }

  /** `iova_bitmap_set`, clipped to the bitmap's range; whole words at a time. */
  set(at: bigint, size: bigint): void {
    const from = at > this.iova ? at : this.iova;
    const lastAt = at + size - 1n;
    const to = lastAt < this.last ? lastAt : this.last;
    if (from > to) return;
    const b0 = (from - this.iova) >> this.#shift;
    const b1 = (to - this.iova) >> this.#shift;
    for (let w = b0 / 64n; w <= b1 / 64n; w++) {
      const lo = w === b0 / 64n ? b0 % 64n : 0n;
      const hi = w === b1 / 64n ? b1 % 64n : 63n;
      const mask = ((1n << (hi - lo + 1n)) - 1n) << lo;
      this.#words.set(w, (this.#words.get(w) ?? 0n) | mask);
    }
  }

  /** Writes the collected bits into user memory. */
  flush(): void {
    const mm = this.ctx.env.process.mm;
    for (const [w, bits] of this.#words) {
      this.ctx.env.host.failNth.point('usercopy', 'dirty_bitmap');
      const va = this.data + w * 8n;
      const dv = new DataView(mm.read(va, 8).buffer);
      dv.setBigUint64(0, dv.getBigUint64(0, true) | bits, true);
      mm.write(va, new Uint8Array(dv.buffer));
    }
    this.#words.clear();
  }
}
