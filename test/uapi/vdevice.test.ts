/**
 * vDEVICE: `iommufd_viommu.vdevice_alloc` / `vdevice_tombstone` / `vdevice_cache` of the catalogue
 * (§6, 76, 82–85), and the IOMMU_VDEVICE_ALLOC rules of spec §2.16.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_TEST_DEV_CACHE_DEFAULT,
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  iommu_viommu_invalidate_selftest,
  MOCK_DEV_CACHE_ID_MAX,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { closeAndCheck, mockDomain } from './helpers/fixture.ts';
import {
  destroy,
  devCheckCache,
  devCheckCacheAll,
  hwptAlloc,
  invalidate,
  ioasAlloc,
  mockDomainReplace,
  type ViommuSelf,
  vdeviceAlloc,
  viommuAlloc,
  viommuInvReqs,
  viommuSelf,
} from './helpers/nested.ts';

const C = IOMMU_TEST_DEV_CACHE_DEFAULT;
const SIZE = iommu_viommu_invalidate_selftest.sizeof;

describe('iommufd_viommu/no_viommu vdevice_alloc', () => {
  test('82 VDEVICE_ALLOC(0, 0, 0x99) → ENOENT', async () => {
    const self = await viommuSelf({ viommu: false });
    await expectErrno('ENOENT', vdeviceAlloc(self.fd, self.viommuId, self.deviceId, 0x99n));
    // Nothing consumed an ID: the fixture's IOAS is 1.
    expect(await ioasAlloc(self.fd)).toBe(2);
    await closeAndCheck(self);
  });
});

describe('iommufd_viommu/mock_viommu vdevice', () => {
  let self: ViommuSelf;
  beforeEach(async () => {
    self = await viommuSelf({ viommu: true });
  });
  afterEach(async (ctx) => {
    if (!ctx.task.result?.errors?.length) await closeAndCheck(self);
  });

  test('76 nested-needs-vdev: REPLACE(stdev → nested) → ENOENT, then ok with a vDEVICE', async () => {
    const { fd, stdevId, nestedHwptId, viommuId, deviceId, ioasId } = self;
    await expectErrno('ENOENT', mockDomainReplace(fd, stdevId, nestedHwptId));
    const vdev = await vdeviceAlloc(fd, viommuId, deviceId, 0x99n);
    expect(await expectOk(mockDomainReplace(fd, stdevId, nestedHwptId))).toBe(nestedHwptId);
    await expectOk(mockDomainReplace(fd, stdevId, ioasId));
    await expectOk(destroy(fd, vdev));
  });

  test('80 one vDEVICE per device, one device per virt_id (EEXIST); free again after DESTROY', async () => {
    const { fd, viommuId, deviceId, ioasId, nestedHwptId } = self;
    const vdev = await expectOk(vdeviceAlloc(fd, viommuId, deviceId, 0x99n));
    await expectErrno('EEXIST', vdeviceAlloc(fd, viommuId, deviceId, 0x99n));
    await expectErrno('EEXIST', vdeviceAlloc(fd, viommuId, deviceId, 0x88n));
    const other = await mockDomain(fd, ioasId);
    await expectErrno('EEXIST', vdeviceAlloc(fd, viommuId, other.idevId, 0x99n));
    // A second vIOMMU on the same parent: the device still has its vDEVICE.
    const { viommuId: v2 } = await viommuAlloc(fd, deviceId, self.hwptId, IOMMU_VIOMMU_TYPE_SELFTEST);
    await expectErrno('EEXIST', vdeviceAlloc(fd, v2, deviceId, 0x77n));
    // The failures took no ID.
    const vOther = await expectOk(vdeviceAlloc(fd, v2, other.idevId, 0x88n));
    expect(vOther).toBe(v2 + 1);
    expect(vdev).toBe(nestedHwptId + 1);
    // A vDEVICE holds its vIOMMU.
    await expectErrno('EBUSY', destroy(fd, v2));
    await expectOk(destroy(fd, vOther));
    await expectOk(destroy(fd, v2));
    await expectOk(destroy(fd, vdev));
    await expectOk(vdeviceAlloc(fd, viommuId, deviceId, 0x99n));
  });

  test('ENOENT for a missing vIOMMU or device, or objects of another type', async () => {
    const { fd, viommuId, deviceId, ioasId, stdevId, hwptId } = self;
    await expectErrno('ENOENT', vdeviceAlloc(fd, 0, deviceId, 1n));
    await expectErrno('ENOENT', vdeviceAlloc(fd, hwptId, deviceId, 1n));
    await expectErrno('ENOENT', vdeviceAlloc(fd, viommuId, 0, 1n));
    await expectErrno('ENOENT', vdeviceAlloc(fd, viommuId, stdevId, 1n));
    await expectErrno('ENOENT', vdeviceAlloc(fd, viommuId, ioasId, 1n));
    // The vIOMMU is looked up first.
    await expectErrno('ENOENT', vdeviceAlloc(fd, deviceId, viommuId, 1n));
  });

  test('virt_id is a full u64', async () => {
    const { fd, viommuId, deviceId } = self;
    const vdev = await expectOk(vdeviceAlloc(fd, viommuId, deviceId, (1n << 64n) - 1n));
    await expectOk(destroy(fd, vdev));
  });

  test('83 vdevice_tombstone: destroying the device tombstones the vDEVICE ID for good', async () => {
    const { fd, viommuId, deviceId, stdevId, nestedHwptId } = self;
    const vdev = await vdeviceAlloc(fd, viommuId, deviceId, 0x99n);
    await expectOk(destroy(fd, stdevId));
    await expectErrno('ENOENT', destroy(fd, vdev));
    // The tombstone dropped its vIOMMU reference: once the nested hwpt goes, so can the vIOMMU.
    await expectOk(destroy(fd, nestedHwptId));
    await expectOk(destroy(fd, viommuId));
    // stdev, idev, the auto hwpt, nested and viommu IDs are free; the tombstoned one never is.
    const ids: number[] = [];
    for (let i = 0; i < 8; i++) ids.push(await ioasAlloc(fd));
    expect(ids).not.toContain(vdev);
    expect(Math.max(...ids)).toBeGreaterThan(vdev);
    await expectErrno('ENOENT', destroy(fd, vdev));
  });

  test('85 vdevice_cache: invalidation through the vIOMMU', async () => {
    const { fd, viommuId, deviceId } = self;
    const vdev = await vdeviceAlloc(fd, viommuId, deviceId, 0x99n);
    await devCheckCacheAll(fd, deviceId, C);
    const inv = (reqs: Uint8Array | bigint, entryLen: number, entryNum: number, dataType?: number) =>
      invalidate(
        fd,
        { id: viommuId, reqs, entryLen, entryNum, ...(dataType === undefined ? {} : { dataType }) },
        true,
      );
    const invErr = async (errno: Parameters<typeof expectErrno>[0], p: Promise<number>) =>
      (await expectErrno(errno, p)).out?.entry_num;
    const zero = viommuInvReqs([{}, {}]);

    expect(await expectOk(inv(zero, SIZE, 0))).toBe(0);
    expect(await invErr('EINVAL', inv(zero, SIZE, 1, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID))).toBe(0);
    expect(await invErr('EINVAL', inv(zero, SIZE + 1, 1))).toBe(0);
    expect(await invErr('EINVAL', inv(zero, 1, 1))).toBe(0);
    expect(
      await invErr('EOPNOTSUPP', inv(viommuInvReqs([{ flags: 0xffff_ffff, vdev_id: 0x99 }, {}]), SIZE, 1)),
    ).toBe(0);
    expect(await invErr('EINVAL', inv(0n, SIZE, 1))).toBe(0);
    expect(await invErr('EINVAL', inv(viommuInvReqs([{ vdev_id: 0x99 }]), 0, 1))).toBe(0);
    const badCache = viommuInvReqs([{ vdev_id: 0x99, cache_id: MOCK_DEV_CACHE_ID_MAX + 1 }, {}]);
    expect(await invErr('EINVAL', inv(badCache, SIZE, 1))).toBe(0);
    expect(await invErr('EINVAL', inv(viommuInvReqs([{ vdev_id: 0x9, cache_id: 0 }, {}]), SIZE, 1))).toBe(0);
    await devCheckCacheAll(fd, deviceId, C);

    const flagsFail = viommuInvReqs([
      { vdev_id: 0x99, cache_id: 0 },
      { flags: 0xffff_ffff, vdev_id: 0x99, cache_id: 1 },
    ]);
    expect(await invErr('EOPNOTSUPP', inv(flagsFail, SIZE, 2))).toBe(1);
    await devCheckCache(fd, deviceId, 0, 0);
    for (const i of [1, 2, 3]) await devCheckCache(fd, deviceId, i, C);

    const cacheFail = viommuInvReqs([
      { vdev_id: 0x99, cache_id: 0 },
      { vdev_id: 0x99, cache_id: MOCK_DEV_CACHE_ID_MAX + 1 },
    ]);
    expect(await invErr('EINVAL', inv(cacheFail, SIZE, 2))).toBe(1);
    await devCheckCache(fd, deviceId, 0, 0);
    for (const i of [1, 2, 3]) await devCheckCache(fd, deviceId, i, C);

    expect(await inv(viommuInvReqs([{ vdev_id: 0x99, cache_id: 1 }]), SIZE, 1)).toBe(1);
    await devCheckCache(fd, deviceId, 0, 0);
    await devCheckCache(fd, deviceId, 1, 0);
    await devCheckCache(fd, deviceId, 2, C);
    await devCheckCache(fd, deviceId, 3, C);
    const two = viommuInvReqs([
      { vdev_id: 0x99, cache_id: 2 },
      { vdev_id: 0x99, cache_id: 3 },
    ]);
    expect(await inv(two, SIZE, 2)).toBe(2);
    await devCheckCacheAll(fd, deviceId, 0);
    expect(
      await inv(viommuInvReqs([{ flags: IOMMU_TEST_INVALIDATE_FLAG_ALL, vdev_id: 0x99 }]), SIZE, 1),
    ).toBe(1);
    await devCheckCacheAll(fd, deviceId, 0);
    await expectOk(destroy(fd, vdev));
  });

  test('85b FLAG_ALL resets every cache entry of that device only', async () => {
    const { fd, viommuId, deviceId, ioasId } = self;
    await vdeviceAlloc(fd, viommuId, deviceId, 0x99n);
    const other = await mockDomain(fd, ioasId);
    await vdeviceAlloc(fd, viommuId, other.idevId, 0x98n);
    const all = viommuInvReqs([{ flags: IOMMU_TEST_INVALIDATE_FLAG_ALL, vdev_id: 0x98 }]);
    expect(await invalidate(fd, { id: viommuId, reqs: all, entryLen: SIZE, entryNum: 1 }, true)).toBe(1);
    await devCheckCacheAll(fd, other.idevId, 0);
    await devCheckCacheAll(fd, deviceId, C);
    // A vDEVICE gone: its virt_id no longer names a device (EINVAL), nothing handled.
    await destroy(fd, other.stdevId);
    const err = await expectErrno(
      'EINVAL',
      invalidate(fd, { id: viommuId, reqs: all, entryLen: SIZE, entryNum: 1 }, true),
    );
    expect(err.out?.entry_num).toBe(0);
  });

  test('each vIOMMU has its own virt_id space', async () => {
    const { fd, deviceId, ioasId } = self;
    const parent2 = await hwptAlloc(fd, deviceId, ioasId, IOMMU_HWPT_ALLOC_NEST_PARENT);
    const { viommuId: v2 } = await viommuAlloc(fd, deviceId, parent2, IOMMU_VIOMMU_TYPE_SELFTEST);
    const other = await mockDomain(fd, ioasId);
    await expectOk(vdeviceAlloc(fd, self.viommuId, deviceId, 0x99n));
    await expectOk(vdeviceAlloc(fd, v2, other.idevId, 0x99n));
  });
});
