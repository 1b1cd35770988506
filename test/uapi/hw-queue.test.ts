/**
 * HW queues: `iommufd_viommu.hw_queue` of the catalogue (§6, 86 and the allocation part that
 * follows it) and the IOMMU_HW_QUEUE_ALLOC rules of spec §2.18 / §5 (mock vIOMMU).
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_HW_QUEUE_TYPE_DEFAULT,
  IOMMU_HW_QUEUE_TYPE_SELFTEST,
  IOMMU_TEST_HW_QUEUE_MAX,
  MOCK_APERTURE_START,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { closeAndCheck, ioasMap, ioasUnmap, PAGE_SIZE } from './helpers/fixture.ts';
import { destroy, hwQueueAlloc, ioasAlloc, rawIoctl, type ViommuSelf, viommuSelf } from './helpers/nested.ts';

const A = BigInt(MOCK_APERTURE_START);
const P = PAGE_SIZE;
const SELFTEST = IOMMU_HW_QUEUE_TYPE_SELFTEST;

describe('iommufd_viommu/mock_viommu hw_queue', () => {
  let self: ViommuSelf;
  beforeEach(async () => {
    self = await viommuSelf({ viommu: true });
  });
  afterEach(async (ctx) => {
    if (!ctx.task.result?.errors?.length) await closeAndCheck(self);
  });

  test('86 neg: type DEFAULT, length 0, overflow, unmapped iova', async () => {
    const { fd, viommuId } = self;
    await expectErrno('EOPNOTSUPP', hwQueueAlloc(fd, viommuId, IOMMU_HW_QUEUE_TYPE_DEFAULT, 0, A, P));
    await expectErrno('EINVAL', hwQueueAlloc(fd, viommuId, SELFTEST, 0, A, 0n));
    await expectErrno('EOVERFLOW', hwQueueAlloc(fd, viommuId, SELFTEST, 0, (1n << 64n) - 1n, P));
    await expectErrno('ENOENT', hwQueueAlloc(fd, viommuId, SELFTEST, 0, A, P));
  });

  test('87 alloc: index order, EEXIST, the pinned page is locked, destroy in descending order', async () => {
    const { fd, ioasId, viommuId, buffer, nestedHwptId } = self;
    const iova = await ioasMap(fd, ioasId, buffer, P);
    const iova2 = await ioasMap(fd, ioasId, buffer + P, P);
    expect(iova).toBe(A);
    // Queues must be allocated from index 0 up; index MAX is out of range.
    await expectErrno('EIO', hwQueueAlloc(fd, viommuId, SELFTEST, 1, iova, P));
    await expectErrno('EINVAL', hwQueueAlloc(fd, viommuId, SELFTEST, IOMMU_TEST_HW_QUEUE_MAX, iova, P));
    const q0 = await expectOk(hwQueueAlloc(fd, viommuId, SELFTEST, 0, iova, P));
    // The failed attempts gave back both their IDs (the queue's and its internal access's).
    expect(q0).toBe(nestedHwptId + 1);
    await expectErrno('EEXIST', hwQueueAlloc(fd, viommuId, SELFTEST, 0, iova, P));
    await expectErrno('EBUSY', ioasUnmap(fd, ioasId, iova, P));
    // The 2nd page is not pinned.
    expect(await expectOk(ioasUnmap(fd, ioasId, iova2, P))).toBe(P);
    // Index 1, unaligned inside the same page.
    const q1 = await expectOk(hwQueueAlloc(fd, viommuId, SELFTEST, 1, iova + P / 2n, P / 2n));
    // The queue's internal ACCESS took the ID right after q0.
    expect(q1).toBe(q0 + 2);
    await expectErrno('EBUSY', destroy(fd, q0));
    await expectOk(destroy(fd, q1));
    await expectOk(destroy(fd, q0));
    expect(await expectOk(ioasUnmap(fd, ioasId, iova, P))).toBe(P);
  });

  test('a failure after the pin drops the internal access: the area is not left locked', async () => {
    const { fd, ioasId, viommuId, buffer } = self;
    const iova = await ioasMap(fd, ioasId, buffer, P);
    await expectErrno('EIO', hwQueueAlloc(fd, viommuId, SELFTEST, 1, iova, P));
    await expectErrno('EINVAL', hwQueueAlloc(fd, viommuId, SELFTEST, IOMMU_TEST_HW_QUEUE_MAX, iova, P));
    expect(await expectOk(ioasUnmap(fd, ioasId, iova, P))).toBe(P);
  });

  test('a queue holds its vIOMMU; the IOVA must be covered by areas without holes', async () => {
    const { fd, ioasId, viommuId, buffer, nestedHwptId } = self;
    await ioasMap(fd, ioasId, buffer, P, A);
    await ioasMap(fd, ioasId, buffer + 2n * P, P, A + 2n * P);
    await expectErrno('ENOENT', hwQueueAlloc(fd, viommuId, SELFTEST, 0, A, 3n * P));
    const q0 = await hwQueueAlloc(fd, viommuId, SELFTEST, 0, A, P);
    await destroy(fd, nestedHwptId);
    await expectErrno('EBUSY', destroy(fd, viommuId));
    await destroy(fd, q0);
    await expectOk(destroy(fd, viommuId));
  });

  test('ALLOC check order: flags → EOPNOTSUPP, length → EINVAL, overflow → EOVERFLOW, all before the vIOMMU', async () => {
    const { fd } = self;
    await expectErrno(
      'EOPNOTSUPP',
      rawIoctl(fd, 'IOMMU_HW_QUEUE_ALLOC', { flags: 1, viommu_id: 0, type: SELFTEST, length: 0n }),
    );
    await expectErrno('EOPNOTSUPP', hwQueueAlloc(fd, 0, IOMMU_HW_QUEUE_TYPE_DEFAULT, 0, A, 0n));
    await expectErrno('EINVAL', hwQueueAlloc(fd, 0, SELFTEST, 0, (1n << 64n) - 1n, 0n));
    await expectErrno('EOVERFLOW', hwQueueAlloc(fd, 0, SELFTEST, 0, (1n << 64n) - P, 2n * P));
    await expectErrno('ENOENT', hwQueueAlloc(fd, 0, SELFTEST, 0, A, P));
    await expectErrno('ENOENT', hwQueueAlloc(fd, self.hwptId, SELFTEST, 0, A, P));
    // An unknown queue type on a real vIOMMU is the driver's EOPNOTSUPP, before any pin (A is unmapped).
    await expectErrno('EOPNOTSUPP', hwQueueAlloc(fd, self.viommuId, 0x1234, 0, A, P));
    expect(await ioasAlloc(fd)).toBe(self.nestedHwptId + 1);
  });
});
