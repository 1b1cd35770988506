import { fail } from '../../../actors/iommufd/errno.ts';
import type { HwptPaging } from '../../../actors/iommufd/hwpt-paging.ts';
import { smallestPage, ULONG_MAX } from '../../../actors/iommufd/io-pagetable.ts';
import type { Ioas } from '../../../actors/iommufd/ioas.ts';
import { PAGE_SIZE_N } from '../../../actors/mem/page.ts';
import { MockDriver } from '../driver.ts';
import type { MockPagingDomain } from '../paging-domain.ts';
import type { TestCmdUcmd } from '../test-cmd.ts';

/** IOMMU_TEST_OP_ADD_RESERVED: a reservation with no owner; EADDRINUSE against areas and allowed ranges. */
export function testAddReserved(ucmd: TestCmdUcmd): void {
  const { cmd, ctx } = ucmd;
  const ioas = ctx.objects.get<Ioas>(cmd.id, 'IOAS');
  const { start, length } = cmd.add_reserved!;
  if (length === 0n || start + length - 1n > ULONG_MAX) fail('EINVAL', 'reserved range');
  ioas.iopt.reserve(start, start + length - 1n, 'test');
}

/** A mock paging HWPT: ENOENT if `id` is not HWPT_PAGING, EINVAL if not the mock driver's. */
export function mockPagingHwpt(
  ucmd: TestCmdUcmd,
  id: number,
): { hwpt: HwptPaging; domain: MockPagingDomain } {
  const hwpt = ucmd.ctx.objects.get<HwptPaging>(id, 'HWPT_PAGING');
  if (!(hwpt.domain.driver instanceof MockDriver)) fail('EINVAL', 'not a mock domain');
  return { hwpt, domain: hwpt.domain as MockPagingDomain };
}

/**
 * IOMMU_TEST_OP_MD_CHECK_MAP: every page of [iova, iova+length) translates, in the domain's own
 * table, to the physical page behind `uptr` at the same offset.
 */
export function testMdCheckMap(ucmd: TestCmdUcmd): void {
  const { cmd, ctx } = ucmd;
  const { domain } = mockPagingHwpt(ucmd, cmd.id);
  let { iova, length, uptr } = cmd.check_map!;
  const pagesize = smallestPage(domain.pgsizeBitmap);
  if (iova % pagesize || length % pagesize || uptr % pagesize || uptr + length > ULONG_MAX) {
    fail('EINVAL', 'check_map alignment');
  }
  const mm = ctx.env.process.mm;
  for (; length > 0n; length -= pagesize, iova += pagesize, uptr += pagesize) {
    const frames = mm.pinPages(uptr - (uptr % PAGE_SIZE_N), 1, false);
    mm.unpinPages(frames);
    const expected = frames[0]! * PAGE_SIZE_N + (uptr % PAGE_SIZE_N);
    const io = domain.iovaToPhys(iova);
    if (io !== expected)
      fail(
        'EINVAL',
        `iova 0x${iova.toString(16)} maps 0x${io?.toString(16)}, expected 0x${expected.toString(16)}`,
      );
  }
}
