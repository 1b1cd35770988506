import { fail } from '../../../actors/iommufd/errno.ts';
import type { TestCmdUcmd } from '../test-cmd.ts';
import { mockPagingHwpt } from './iopt.ts';

/**
 * IOMMU_TEST_OP_DIRTY (`iommufd_test_dirty`): plays a device writing, by setting the dirty bit
 * of the mock IOPTE behind every set bit of the user's bitmap (bit i ↔ iova + i*page_size).
 * `out_nr_dirty` counts the bits whose IOVA had an IOPTE; unmapped ones are skipped.
 */
export function testDirty(ucmd: TestCmdUcmd): void {
  const { cmd, ctx } = ucmd;
  const d = cmd.dirty!;
  const { iova, length, page_size: pageSize, uptr } = d;
  if (!pageSize || !length || iova % pageSize || length % pageSize || !uptr) {
    fail('EINVAL', 'dirty: page_size, alignment or NULL bitmap');
  }
  const { domain } = mockPagingHwpt(ucmd, cmd.id);
  if (!domain.dirtyTracking) fail('EINVAL', 'dirty tracking is not enabled');
  const max = length / pageSize;
  // copy_from_user of DIV_ROUND_UP(max, BITS_PER_BYTE) bytes: EFAULT before any IOPTE changes.
  const bytes = ctx.env.process.mm.read(uptr, Number((max + 7n) / 8n));
  let count = 0n;
  for (let i = 0n; i < max; i++) {
    if (!(bytes[Number(i >> 3n)]! & (1 << Number(i & 7n)))) continue;
    if (domain.markDirty(iova + i * pageSize)) count++;
  }
  d.out_nr_dirty = count;
  ucmd.respond();
}
