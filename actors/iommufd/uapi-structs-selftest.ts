/**
 * Payloads of the selftest mock driver (tools/testing/selftests/iommu/iommufd_test.h), carried by
 * the same `data_uptr` fields as the vendor payloads.
 */
import { defineStruct } from './struct.ts';

/** GET_HW_INFO data for IOMMU_HW_INFO_TYPE_SELFTEST. */
export const iommu_test_hw_info = defineStruct('iommu_test_hw_info', { flags: 'u32', test_reg: 'u32' });

/** HWPT_ALLOC data for IOMMU_HWPT_DATA_SELFTEST. */
export const iommu_hwpt_selftest = defineStruct('iommu_hwpt_selftest', {
  iotlb: 'u32',
  pagetable_type: 'u32',
});

/** HWPT_INVALIDATE entry for IOMMU_HWPT_INVALIDATE_DATA_SELFTEST on a nested hwpt. */
export const iommu_hwpt_invalidate_selftest = defineStruct('iommu_hwpt_invalidate_selftest', {
  flags: 'u32',
  iotlb_id: 'u32',
});

/** VIOMMU_ALLOC data for IOMMU_VIOMMU_TYPE_SELFTEST. */
export const iommu_viommu_selftest = defineStruct('iommu_viommu_selftest', {
  in_data: 'u32',
  out_data: 'u32',
  out_mmap_offset: 'u64',
  out_mmap_length: 'u64',
});

/** HWPT_INVALIDATE entry for IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST on a vIOMMU. */
export const iommu_viommu_invalidate_selftest = defineStruct('iommu_viommu_invalidate_selftest', {
  flags: 'u32',
  vdev_id: 'u32',
  cache_id: 'u32',
});

/** vEVENT payload of IOMMU_VEVENTQ_TYPE_SELFTEST. */
export const iommu_viommu_event_selftest = defineStruct('iommu_viommu_event_selftest', { virt_id: 'u32' });
