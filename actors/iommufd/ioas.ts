import { MemfdFile } from '../mem/memfd.ts';
import { PAGE_SIZE_N } from '../mem/page.ts';
import type { IommufdCtx } from './ctx.ts';
import { check, fail, IommufdError } from './errno.ts';
import type { HwptPaging } from './hwpt-paging.ts';
import { IntervalTree } from './interval-tree.ts';
import { IoPagetable, ULONG_MAX } from './io-pagetable.ts';
import type { IoctlArg } from './ioctl-table.ts';
import { ioptGetPages, ioptMapPages, ioptUnmapRange, type PagesElm } from './iopt-map.ts';
import { IommufdObject } from './object.ts';
import { IoptPages, type PagesSource } from './pages.ts';
import {
  IOMMU_IOAS_MAP_FIXED_IOVA as FIXED,
  IOMMU_IOAS_MAP_READABLE as READABLE,
  IOMMU_IOAS_MAP_WRITEABLE as WRITEABLE,
} from './uapi-iommufd.ts';
import type { Ucmd } from './ucmd.ts';

const MAP_FLAGS = FIXED | WRITEABLE | READABLE;
const SIZE_MAX = ULONG_MAX;

/** IOMMUFD_OBJ_IOAS: an IO address space, its page table engine and the paging HWPTs built on it. */
export class Ioas extends IommufdObject {
  readonly type = 'IOAS' as const;
  readonly iopt: IoPagetable;
  /** HWPT_PAGING objects whose domain is in `iopt` (`ioas->hwpt_list`). */
  readonly hwptList: HwptPaging[] = [];

  constructor(readonly ctx: IommufdCtx) {
    super();
    this.iopt = new IoPagetable(ctx.env.host.failNth);
  }

  /** Unmaps everything first, so areas never keep an IOAS alive; only HWPTs and accesses do. */
  async destroy(): Promise<void> {
    if (this.ctx.vfioIoas === this) this.ctx.vfioIoas = undefined;
    try {
      await ioptUnmapRange(this.iopt, 0n, ULONG_MAX);
    } catch (err) {
      if (!IommufdError.is(err) || err.errno !== 'ENOENT') throw err;
    }
  }
}

/** IOMMU_* map flags → IOMMU_READ|IOMMU_WRITE. */
export function mapProt(flags: number): number {
  return (flags & READABLE ? 1 : 0) | (flags & WRITEABLE ? 2 : 0);
}

export function iommufdIoasAlloc(ucmd: Ucmd<IoctlArg<'IOMMU_IOAS_ALLOC'>>): void {
  const { cmd, ctx } = ucmd;
  if (cmd.flags) fail('EOPNOTSUPP', 'flags');
  const ioas = ctx.objects.create(() => new Ioas(ctx));
  ucmd.newObj = ioas;
  cmd.out_ioas_id = ioas.id;
  ucmd.respond();
}

/** The flag, overflow and permission checks MAP and MAP_FILE share, in the kernel's order. */
function checkMapArgs(cmd: { flags: number; iova: bigint; length: bigint }, reservedSet: boolean): void {
  if (cmd.flags & ~MAP_FLAGS || reservedSet) fail('EOPNOTSUPP', 'flags or __reserved');
  if (cmd.iova >= ULONG_MAX || cmd.length >= ULONG_MAX) fail('EOVERFLOW', 'iova or length');
  if (!(cmd.flags & (WRITEABLE | READABLE))) fail('EINVAL', 'neither readable nor writeable');
}

/** `iopt_alloc_pages` checks on a (base + length) source. */
function checkPagesRange(start: bigint, length: bigint, what: string): void {
  if (length === 0n) fail('EINVAL', 'zero length');
  if (start + length > ULONG_MAX) fail('EOVERFLOW', `${what} + length`);
  if (length > SIZE_MAX - PAGE_SIZE_N) fail('EINVAL', 'length too large');
}

/** Builds the pages object for [start, start+length) of `source` and maps it (`iopt_map_common`). */
async function mapNewPages(
  ucmd: Ucmd<{ flags: number; iova: bigint; length: bigint }>,
  ioas: Ioas,
  start: bigint,
  sourceOf: (base: bigint) => PagesSource,
): Promise<void> {
  const { cmd, ctx } = ucmd;
  const offset = start % PAGE_SIZE_N;
  const writable = (cmd.flags & WRITEABLE) !== 0;
  ctx.env.host.failNth.point('alloc', 'iopt_pages');
  const pages = new IoptPages(sourceOf(start - offset), offset + cmd.length, writable, ctx.pinAccount());
  const elm: PagesElm = { pages, startByte: offset, length: cmd.length };
  const fixed = cmd.flags & FIXED ? cmd.iova : undefined;
  cmd.iova = await ioptMapPages(
    ioas.iopt,
    [elm],
    mapProt(cmd.flags),
    fixed,
    ctx.env.host.faults.skipMapRollback,
  );
  ucmd.respond();
}

export async function iommufdIoasMap(ucmd: Ucmd<IoctlArg<'IOMMU_IOAS_MAP'>>): Promise<void> {
  const { cmd, ctx } = ucmd;
  checkMapArgs(cmd, cmd.__reserved !== 0);
  const ioas = ctx.objects.get<Ioas>(cmd.ioas_id, 'IOAS');
  checkPagesRange(cmd.user_va, cmd.length, 'user_va');
  await mapNewPages(ucmd, ioas, cmd.user_va, (base) => ({ kind: 'user', mm: ctx.env.process.mm, base }));
}

export async function iommufdIoasMapFile(ucmd: Ucmd<IoctlArg<'IOMMU_IOAS_MAP_FILE'>>): Promise<void> {
  const { cmd, ctx } = ucmd;
  checkMapArgs(cmd, false);
  const ioas = ctx.objects.get<Ioas>(cmd.ioas_id, 'IOAS');
  const file = ctx.env.process.files.get(cmd.fd);
  check(file instanceof MemfdFile, 'EINVAL', 'fd is not a memfd');
  checkPagesRange(cmd.start, cmd.length, 'start');
  const inode = file.inode;
  if (cmd.start + cmd.length > inode.size) fail('EINVAL', 'range past the end of the file');
  await mapNewPages(ucmd, ioas, cmd.start, (base) => ({ kind: 'file', file: inode, base }));
}

export async function iommufdIoasCopy(ucmd: Ucmd<IoctlArg<'IOMMU_IOAS_COPY'>>): Promise<void> {
  const { cmd, ctx } = ucmd;
  if (cmd.flags & ~MAP_FLAGS) fail('EOPNOTSUPP', 'flags');
  if (cmd.length >= ULONG_MAX || cmd.src_iova >= ULONG_MAX || cmd.dst_iova >= ULONG_MAX) {
    fail('EOVERFLOW', 'length or iova');
  }
  if (!(cmd.flags & (WRITEABLE | READABLE))) fail('EINVAL', 'neither readable nor writeable');
  const src = ctx.objects.get<Ioas>(cmd.src_ioas_id, 'IOAS');
  const elms = ioptGetPages(src.iopt, cmd.src_iova, cmd.length);
  const dst = ctx.objects.get<Ioas>(cmd.dst_ioas_id, 'IOAS');
  const fixed = cmd.flags & FIXED ? cmd.dst_iova : undefined;
  cmd.dst_iova = await ioptMapPages(
    dst.iopt,
    elms,
    mapProt(cmd.flags),
    fixed,
    ctx.env.host.faults.skipMapRollback,
  );
  ucmd.respond();
}

export async function iommufdIoasUnmap(ucmd: Ucmd<IoctlArg<'IOMMU_IOAS_UNMAP'>>): Promise<void> {
  const { cmd, ctx } = ucmd;
  const ioas = ctx.objects.get<Ioas>(cmd.ioas_id, 'IOAS');
  let unmapped: bigint;
  if (cmd.iova === 0n && cmd.length === ULONG_MAX) {
    unmapped = await unmapAll(ioas);
  } else {
    if (cmd.iova >= ULONG_MAX || cmd.length >= ULONG_MAX) fail('EOVERFLOW', 'iova or length');
    if (cmd.length === 0n) fail('EINVAL', 'zero length');
    const last = cmd.iova + cmd.length - 1n;
    if (last > ULONG_MAX) fail('EOVERFLOW', 'iova + length');
    unmapped = await ioptUnmapRange(ioas.iopt, cmd.iova, last);
  }
  cmd.length = unmapped;
  ucmd.respond();
}

/** `iopt_unmap_all`: an empty IOAS unmaps 0 bytes successfully. */
export async function unmapAll(ioas: Ioas): Promise<bigint> {
  try {
    return await ioptUnmapRange(ioas.iopt, 0n, ULONG_MAX);
  } catch (err) {
    if (IommufdError.is(err) && err.errno === 'ENOENT' && ioas.iopt.areas.size === 0) return 0n;
    throw err;
  }
}

export function iommufdIoasIovaRanges(ucmd: Ucmd<IoctlArg<'IOMMU_IOAS_IOVA_RANGES'>>): void {
  const { cmd, ctx } = ucmd;
  if (cmd.__reserved) fail('EOPNOTSUPP', '__reserved');
  const ioas = ctx.objects.get<Ioas>(cmd.ioas_id, 'IOAS');
  const max = cmd.num_iovas;
  const mm = ctx.env.process.mm;
  let n = 0;
  cmd.out_iova_alignment = ioas.iopt.iovaAlignment;
  for (const hole of ioas.iopt.usableRanges()) {
    if (n < max) {
      const entry = new Uint8Array(16);
      const dv = new DataView(entry.buffer);
      dv.setBigUint64(0, hole.start, true);
      dv.setBigUint64(8, hole.last, true);
      ctx.env.host.failNth.point('usercopy', 'iova_ranges');
      mm.write(cmd.allowed_iovas + BigInt(n) * 16n, entry);
    }
    n++;
  }
  cmd.num_iovas = n;
  ucmd.respond();
  if (n > max) fail('EMSGSIZE', `${n} ranges, room for ${max}`);
}

export function iommufdIoasAllowIovas(ucmd: Ucmd<IoctlArg<'IOMMU_IOAS_ALLOW_IOVAS'>>): void {
  const { cmd, ctx } = ucmd;
  if (cmd.__reserved) fail('EOPNOTSUPP', '__reserved');
  const ioas = ctx.objects.get<Ioas>(cmd.ioas_id, 'IOAS');
  const mm = ctx.env.process.mm;
  // One copy_from_user per entry (EFAULT past the user's mapping) and an interval-tree overlap
  // check, as the kernel does: the cost follows the entries that exist, never n² of num_iovas.
  const seen = new IntervalTree<undefined>();
  const ranges: Array<{ start: bigint; last: bigint }> = [];
  for (let i = 0; i < cmd.num_iovas; i++) {
    ctx.env.host.failNth.point('usercopy', 'allow_iovas');
    const dv = new DataView(mm.read(cmd.allowed_iovas + BigInt(i) * 16n, 16).buffer);
    const start = dv.getBigUint64(0, true);
    const last = dv.getBigUint64(8, true);
    if (start >= last) fail('EINVAL', `allowed range ${i}: start >= last`);
    if (seen.intersects(start, last)) fail('EINVAL', `allowed range ${i} overlaps`);
    seen.insert(start, last, undefined);
    ranges.push({ start, last });
  }
  ioas.iopt.setAllowed(ranges);
}
