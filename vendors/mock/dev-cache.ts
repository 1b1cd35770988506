import { IOMMU_TEST_DEV_CACHE_DEFAULT, MOCK_DEV_CACHE_NUM } from '../../actors/iommufd/uapi-selftest.ts';
import type { DeviceRef } from '../driver.ts';

/** Keyed by the device itself: the state lives and dies with the mock device, like `mdev->cache`. */
const CACHES = new WeakMap<DeviceRef, number[]>();

/**
 * A mock device's cache (`struct mock_dev.cache`): MOCK_DEV_CACHE_NUM entries, each
 * IOMMU_TEST_DEV_CACHE_DEFAULT until a vIOMMU invalidation clears it, read back by
 * IOMMU_TEST_OP_DEV_CHECK_CACHE.
 */
export function mockDevCache(dev: DeviceRef): number[] {
  let cache = CACHES.get(dev);
  if (!cache)
    CACHES.set(dev, (cache = new Array<number>(MOCK_DEV_CACHE_NUM).fill(IOMMU_TEST_DEV_CACHE_DEFAULT)));
  return cache;
}
