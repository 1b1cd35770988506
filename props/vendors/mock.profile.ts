import {
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  IOMMU_TEST_IOTLB_DEFAULT,
  MOCK_NESTED_DOMAIN_IOTLB_ID_MAX,
} from '../../actors/iommufd/uapi-selftest.ts';
import type { VendorProfile } from './profile.ts';

/** The selftest mock: nested domains with four fake IOTLB entries over the parent's stage 2. */
export const mockProfile: VendorProfile = {
  nested: { dataType: IOMMU_HWPT_DATA_SELFTEST, data: { iotlb: IOMMU_TEST_IOTLB_DEFAULT }, translates: true },
  invalidate: {
    dataType: IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
    kinds: [
      [{ flags: IOMMU_TEST_INVALIDATE_FLAG_ALL, iotlb_id: 0 }],
      [{ flags: 0, iotlb_id: 1 }],
      [
        { flags: 0, iotlb_id: 2 },
        { flags: 0, iotlb_id: MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1 },
      ],
      [],
    ],
  },
};
