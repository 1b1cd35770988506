import {
  accessCreate,
  accessPinPages,
  accessReplaceIoas,
  accessRw,
  accessUnpinPages,
  type IommufdAccess,
} from '../../../actors/iommufd/access.ts';
import { reserveAnonFd } from '../../../actors/iommufd/anon-fd.ts';
import type { IommufdCtx } from '../../../actors/iommufd/ctx.ts';
import type { HostEnv } from '../../../actors/iommufd/env.ts';
import { fail } from '../../../actors/iommufd/errno.ts';
import type { Ioas } from '../../../actors/iommufd/ioas.ts';
import {
  MOCK_ACCESS_RW_SLOW_PATH,
  MOCK_ACCESS_RW_WRITE,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
  MOCK_FLAGS_ACCESS_SYZ,
  MOCK_FLAGS_ACCESS_WRITE,
} from '../../../actors/iommufd/uapi-selftest.ts';
import type { Ucmd } from '../../../actors/iommufd/ucmd.ts';
import { MemFile } from '../../../actors/mem/memfd.ts';
import { PAGE_SIZE_N } from '../../../actors/mem/page.ts';
import { SelftestAccessFile, selftestAccessFile } from '../selftest-access.ts';
import type { TestCmdUcmd } from '../test-cmd.ts';

/** The selftest refuses bigger buffers so syzkaller cannot make kvzalloc() warn. */
const ACCESS_MAX_LENGTH = 16n * 1024n * 1024n;
const DEFAULT_TEMP_MEMORY_LIMIT = 65536;

/**
 * `iommufd_test_memory_limit`, per host as the kernel's is per module. It only bounds the size of
 * the kernel's temporary batch buffers, which change how work is chunked but not its result; the
 * simulator keeps it so the op round-trips, and nothing else reads it.
 */
const tempMemoryLimit = new WeakMap<HostEnv, number>();

export function testTempMemoryLimit(host: HostEnv): number {
  return tempMemoryLimit.get(host) ?? DEFAULT_TEMP_MEMORY_LIMIT;
}

/**
 * IOMMU_TEST_OP_CREATE_ACCESS: an ACCESS object on IOAS `id` (consuming an object ID) behind a new
 * anon fd, published only once the ioctl succeeded (fd_install).
 */
export function testCreateAccess(ucmd: TestCmdUcmd): void {
  const { cmd, ctx } = ucmd;
  const m = cmd.create_access!;
  if (m.flags & ~MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES)
    fail('EOPNOTSUPP', `flags 0x${m.flags.toString(16)}`);
  const ioas = ctx.objects.get<Ioas>(cmd.id, 'IOAS');
  let file: SelftestAccessFile | undefined;
  const access = accessCreate(ctx, ioas, {
    needsPinPages: (m.flags & MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) !== 0,
    unmap: (iova, length) => file?.unmap(iova, length),
  });
  ucmd.newObj = access;
  file = new SelftestAccessFile(access);
  m.out_access_fd = reserveAnonFd(ucmd as Ucmd<object>, file);
  ucmd.respond();
}

/** IOMMU_TEST_OP_DESTROY_ACCESS_PAGES: `id` is the access fd. */
export function testDestroyAccessPages(ucmd: TestCmdUcmd): void {
  const { cmd, ctx } = ucmd;
  selftestAccessFile(ctx, cmd.id).destroyItem(cmd.destroy_access_pages!.access_pages_id);
}

/**
 * IOMMU_TEST_OP_ACCESS_PAGES (`iommufd_test_access_pages`): pins [iova, iova+length) through the
 * access and records it as an item. A non-NULL `uptr` must be the user memory behind that IOVA:
 * each pinned page is compared with what get_user_pages() finds there (EBADE on a mismatch).
 */
export function testAccessPages(ucmd: TestCmdUcmd): void {
  const { cmd, ctx } = ucmd;
  const m = cmd.access_pages!;
  if (m.length > ACCESS_MAX_LENGTH) fail('ENOMEM', 'length > 16 MiB');
  if (m.flags & ~(MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ)) fail('EOPNOTSUPP', 'flags');
  const file = selftestAccessFile(ctx, cmd.id);
  const { access } = file;
  if (!access.ops.needsPinPages) fail('EOPNOTSUPP', 'the access was created without NEEDS_PIN_PAGES');
  const iova = m.flags & MOCK_FLAGS_ACCESS_SYZ ? syzConvIova(access, m.iova) : m.iova;
  const pin = accessPinPages(access, iova, m.length, (m.flags & MOCK_FLAGS_ACCESS_WRITE) !== 0);
  try {
    if (m.uptr) checkPages(ctx, m.uptr - (iova % PAGE_SIZE_N), pin.frames);
    const item = file.addItem(iova, m.length, pin);
    m.out_access_pages_id = item.id;
    try {
      ucmd.respond();
    } catch (err) {
      file.items.delete(item.id);
      throw err;
    }
  } catch (err) {
    accessUnpinPages(access, pin);
    throw err;
  }
}

/** `iommufd_test_check_pages`: page by page, the user's page must be the pinned one. */
function checkPages(ctx: IommufdCtx, uptr: bigint, frames: readonly bigint[]): void {
  const mm = ctx.env.process.mm;
  let va = uptr - (uptr % PAGE_SIZE_N);
  for (const frame of frames) {
    const [user] = mm.pinPages(va, 1, false);
    mm.unpinPages([user!]);
    if (user !== frame) fail('EBADE', `user page at 0x${va.toString(16)} is not the pinned page`);
    va += PAGE_SIZE_N;
  }
}

/**
 * IOMMU_TEST_OP_ACCESS_RW (`iommufd_test_access_rw`): a CPU copy between user memory at `uptr` and
 * the IOAS. SLOW_PATH picks the kernel's page-by-page path, which moves the same bytes.
 */
export function testAccessRw(ucmd: TestCmdUcmd): void {
  const { cmd, ctx } = ucmd;
  const m = cmd.access_rw!;
  if (m.length > ACCESS_MAX_LENGTH) fail('ENOMEM', 'length > 16 MiB');
  if (m.flags & ~(MOCK_ACCESS_RW_WRITE | MOCK_ACCESS_RW_SLOW_PATH | MOCK_FLAGS_ACCESS_SYZ)) {
    fail('EOPNOTSUPP', 'flags');
  }
  const { access } = selftestAccessFile(ctx, cmd.id);
  const mm = ctx.env.process.mm;
  const write = (m.flags & MOCK_ACCESS_RW_WRITE) !== 0;
  const buf = new Uint8Array(Number(m.length));
  if (write) buf.set(mm.read(m.uptr, buf.length));
  const iova = m.flags & MOCK_FLAGS_ACCESS_SYZ ? syzConvIova(access, m.iova) : m.iova;
  accessRw(access, iova, buf, write);
  if (!write) mm.write(m.uptr, buf);
}

/**
 * IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT: the kernel's temporary-memory cap (see `tempMemoryLimit`).
 */
export function testSetTempMemoryLimit(ucmd: TestCmdUcmd): void {
  const { cmd, ctx } = ucmd;
  const { limit } = cmd.memory_limit!;
  if (limit < 12) fail('EINVAL', `memory limit ${limit} < 12`);
  tempMemoryLimit.set(ctx.env.host, limit);
}

/** IOMMU_TEST_OP_ACCESS_REPLACE_IOAS (`iommufd_access_replace`): ENOENT while detached. */
export function testAccessReplaceIoas(ucmd: TestCmdUcmd): void {
  const { cmd, ctx } = ucmd;
  const { access } = selftestAccessFile(ctx, cmd.id);
  if (!access.ioas) fail('ENOENT', 'access is not attached');
  accessReplaceIoas(access, ctx.objects.get<Ioas>(cmd.access_replace_ioas!.ioas_id, 'IOAS'));
}

/**
 * IOMMU_TEST_OP_MD_CHECK_REFS (`iommufd_test_md_check_refs`): every page of [uptr, uptr+length)
 * must carry exactly `refs` long-term pins (EIO otherwise; compound pages are not checked).
 *
 * Pins are counted from the physical frame's references, as the kernel reads them off the page
 * (page_ref_count / GUP_PIN_COUNTING_BIAS), so pins from any fd count, and a new fd can check
 * that a closed one leaked nothing. Plain references are subtracted: this mapping's PTE, and a
 * memfd's own reference when the page belongs to the file. Mappings of the same file page in
 * other processes would count as pins; nothing here maps one file from two processes.
 */
export function testMdCheckRefs(ucmd: TestCmdUcmd): void {
  const { cmd, ctx } = ucmd;
  const { length, uptr, refs } = cmd.check_refs!;
  if (length % PAGE_SIZE_N || uptr % PAGE_SIZE_N) fail('EINVAL', 'check_refs alignment');
  const mm = ctx.env.process.mm;
  for (let va = uptr, left = length; left > 0n; left -= PAGE_SIZE_N, va += PAGE_SIZE_N) {
    const [pfn] = mm.pinPages(va, 1, false);
    mm.unpinPages([pfn!]);
    const vma = mm.vmaAt(va)!;
    if (vma.hugetlb) continue;
    let plain = 1;
    const backing = vma.backing;
    if (backing instanceof MemFile && backing.lookup(vma.pgoff + (va - vma.start) / PAGE_SIZE_N) === pfn)
      plain++;
    const pins = mm.phys.refcount(pfn!) - plain;
    if (pins !== refs) fail('EIO', `page at 0x${va.toString(16)} has ${pins} pins, expected ${refs}`);
  }
}

/**
 * `iommufd_test_syz_conv_iova`: syzkaller passes `struct syz_layout { u32 nth_area; u32 offset; }`
 * in place of an IOVA; it names an offset into the nth area (0 when there is none).
 */
function syzConvIova(access: IommufdAccess, raw: bigint): bigint {
  if (!access.ioas) return 0n;
  let nth = raw & 0xffff_ffffn;
  const offset = raw >> 32n;
  for (const { value: area } of access.ioas.iopt.areas.all()) {
    if (nth === 0n) return area.iova + offset;
    nth--;
  }
  return 0n;
}
