import { fail } from '../../actors/iommufd/errno.ts';
import {
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  MOCK_NESTED_DOMAIN_IOTLB_ID_MAX,
  MOCK_NESTED_DOMAIN_IOTLB_NUM,
} from '../../actors/iommufd/uapi-selftest.ts';
import { iommu_hwpt_invalidate_selftest } from '../../actors/iommufd/uapi-structs-selftest.ts';
import type { DeviceRef, Domain, InvalidateResult, NestedDomain, UserDataArray } from '../driver.ts';
import type { MockDriver } from './driver.ts';
import type { MockHardware, MockTranslating } from './hardware.ts';
import type { MockPagingDomain } from './paging-domain.ts';

/**
 * A mock nested domain: four fake IOTLB entries the selftest reads back (MD_CHECK_IOTLB) and
 * invalidates (HWPT_INVALIDATE). Its stage 1 is the identity, so DMA translates through the
 * parent's stage 2.
 */
export class MockNestedDomain implements NestedDomain, MockTranslating {
  readonly kind = 'nested' as const;
  readonly iotlb: number[];

  constructor(
    readonly driver: MockDriver,
    readonly hw: MockHardware,
    readonly parent: MockPagingDomain,
    iotlb: number,
    /** For a domain made through a vIOMMU: the device must have a vDEVICE there. */
    readonly requireVdev?: (dev: DeviceRef) => boolean,
  ) {
    this.iotlb = new Array(MOCK_NESTED_DOMAIN_IOTLB_NUM).fill(iotlb);
  }

  async attachDev(dev: DeviceRef, pasid: number | undefined, _old: Domain | undefined): Promise<void> {
    if (this.requireVdev && !this.requireVdev(dev))
      fail('ENOENT', 'no vDEVICE for this device on the vIOMMU');
    this.driver.checkPasidQuirk(dev, pasid, false);
    this.hw.setDomain(dev.rid, pasid, this);
  }

  free(): void {}

  lookup(iova: bigint, write: boolean) {
    return this.parent.lookup(iova, write);
  }

  async cacheInvalidateUser(array: UserDataArray): Promise<InvalidateResult> {
    if (array.type !== IOMMU_HWPT_INVALIDATE_DATA_SELFTEST) fail('EINVAL', 'invalidation data type');
    const size = iommu_hwpt_invalidate_selftest.sizeof;
    let handled = 0;
    try {
      for (; handled < array.entryNum; handled++) {
        if (array.entryLen !== size) fail('EINVAL', `entry_len ${array.entryLen}`);
        const inv = iommu_hwpt_invalidate_selftest.decode(array.entry(handled));
        if (inv.flags & ~IOMMU_TEST_INVALIDATE_FLAG_ALL) fail('EOPNOTSUPP', 'invalidation flags');
        if (inv.iotlb_id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX) fail('EINVAL', `iotlb_id ${inv.iotlb_id}`);
        if (inv.flags & IOMMU_TEST_INVALIDATE_FLAG_ALL) this.iotlb.fill(0);
        else this.iotlb[inv.iotlb_id] = 0;
      }
    } catch (error) {
      return { handled, error };
    }
    return { handled };
  }
}
