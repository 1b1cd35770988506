import type { InvalidateResult, UserDataArray } from '../../vendors/driver.ts';
import { PAGE_SIZE } from '../mem/page.ts';
import { fail, IommufdError } from './errno.ts';
import type { HwptNested } from './hwpt-nested.ts';
import type { IoctlArg } from './ioctl-table.ts';
import { IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX } from './uapi-iommufd.ts';
import type { Ucmd } from './ucmd.ts';
import type { Viommu } from './viommu.ts';

type InvalidateCmd = IoctlArg<'IOMMU_HWPT_INVALIDATE'>;

/** What the driver handled, or throws the error to return with `handled` entries done. */
async function invalidate(ucmd: Ucmd<InvalidateCmd>): Promise<InvalidateResult> {
  const { cmd, ctx } = ucmd;
  if (cmd.__reserved) fail('EOPNOTSUPP', '__reserved');
  if (
    cmd.entry_num &&
    (!cmd.data_uptr ||
      !cmd.entry_len ||
      cmd.entry_len > PAGE_SIZE ||
      cmd.entry_num > IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX)
  ) {
    fail('EINVAL', 'data_uptr, entry_len or entry_num');
  }
  const pt = ctx.objects.get(cmd.hwpt_id);
  const mm = ctx.env.process.mm;
  const array: UserDataArray = {
    type: cmd.data_type,
    entryLen: cmd.entry_len,
    entryNum: cmd.entry_num,
    entry(i) {
      if (i < 0 || i >= cmd.entry_num) throw new RangeError(`entry ${i} of ${cmd.entry_num}`);
      ctx.env.host.failNth.point('usercopy', 'invalidate_entry');
      return mm.read(cmd.data_uptr + BigInt(i) * BigInt(cmd.entry_len), cmd.entry_len);
    },
  };
  if (pt.type === 'HWPT_NESTED') {
    const domain = (pt as HwptNested).domain;
    if (!domain.cacheInvalidateUser) fail('EOPNOTSUPP', 'domain has no cache_invalidate_user');
    ctx.env.host.failNth.point('driver', 'cache_invalidate_user');
    return domain.cacheInvalidateUser(array);
  }
  if (pt.type === 'VIOMMU') {
    const ops = (pt as Viommu).ops;
    if (!ops.cacheInvalidate) fail('EOPNOTSUPP', 'vIOMMU has no cache_invalidate');
    ctx.env.host.failNth.point('driver', 'viommu_cache_invalidate');
    return ops.cacheInvalidate(array);
  }
  return fail('EINVAL', `hwpt_id ${cmd.hwpt_id} is a ${pt.type}`);
}

/**
 * IOMMU_HWPT_INVALIDATE: hands the user's array to a nested domain or a vIOMMU. Drivers stop at
 * the first bad entry; `entry_num` is written back with the count handled, on failure too (a
 * driver that throws handled none), and a failed copy-back overrides any error with EFAULT.
 */
export async function iommufdHwptInvalidate(ucmd: Ucmd<InvalidateCmd>): Promise<void> {
  let result: InvalidateResult;
  try {
    result = await invalidate(ucmd);
  } catch (error) {
    if (!IommufdError.is(error)) throw error;
    result = { handled: 0, error };
  }
  ucmd.cmd.entry_num = result.handled;
  ucmd.respond();
  if (result.error !== undefined) throw result.error;
}
