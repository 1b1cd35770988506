/**
 * Argument structs of the /dev/iommu ioctls and the records read from / written to its anon fds,
 * byte-exact with include/uapi/linux/iommufd.h. Field names are the kernel's.
 */
import { defineStruct } from './struct.ts';

export const iommu_destroy = defineStruct('iommu_destroy', { size: 'u32', id: 'u32' });

export const iommu_ioas_alloc = defineStruct('iommu_ioas_alloc', {
  size: 'u32',
  flags: 'u32',
  out_ioas_id: 'u32',
});

/** Element of the arrays behind `allowed_iovas`; `last` is inclusive. */
export const iommu_iova_range = defineStruct('iommu_iova_range', { start: 'u64', last: 'u64' });

export const iommu_ioas_iova_ranges = defineStruct('iommu_ioas_iova_ranges', {
  size: 'u32',
  ioas_id: 'u32',
  num_iovas: 'u32',
  __reserved: 'u32',
  allowed_iovas: 'u64',
  out_iova_alignment: 'u64',
});

export const iommu_ioas_allow_iovas = defineStruct('iommu_ioas_allow_iovas', {
  size: 'u32',
  ioas_id: 'u32',
  num_iovas: 'u32',
  __reserved: 'u32',
  allowed_iovas: 'u64',
});

export const iommu_ioas_map = defineStruct('iommu_ioas_map', {
  size: 'u32',
  flags: 'u32',
  ioas_id: 'u32',
  __reserved: 'u32',
  user_va: 'u64',
  length: 'u64',
  iova: 'u64',
});

export const iommu_ioas_map_file = defineStruct('iommu_ioas_map_file', {
  size: 'u32',
  flags: 'u32',
  ioas_id: 'u32',
  fd: 's32',
  start: 'u64',
  length: 'u64',
  iova: 'u64',
});

export const iommu_ioas_copy = defineStruct('iommu_ioas_copy', {
  size: 'u32',
  flags: 'u32',
  dst_ioas_id: 'u32',
  src_ioas_id: 'u32',
  length: 'u64',
  dst_iova: 'u64',
  src_iova: 'u64',
});

export const iommu_ioas_unmap = defineStruct('iommu_ioas_unmap', {
  size: 'u32',
  ioas_id: 'u32',
  iova: 'u64',
  length: 'u64',
});

export const iommu_option = defineStruct('iommu_option', {
  size: 'u32',
  option_id: 'u32',
  op: 'u16',
  __reserved: 'u16',
  object_id: 'u32',
  val64: 'u64',
});

export const iommu_vfio_ioas = defineStruct('iommu_vfio_ioas', {
  size: 'u32',
  ioas_id: 'u32',
  op: 'u16',
  __reserved: 'u16',
});

export const iommu_hwpt_alloc = defineStruct('iommu_hwpt_alloc', {
  size: 'u32',
  flags: 'u32',
  dev_id: 'u32',
  pt_id: 'u32',
  out_hwpt_id: 'u32',
  __reserved: 'u32',
  data_type: 'u32',
  data_len: 'u32',
  data_uptr: 'u64',
  fault_id: 'u32',
  __reserved2: 'u32',
});

export const iommu_hw_info = defineStruct('iommu_hw_info', {
  size: 'u32',
  flags: 'u32',
  dev_id: 'u32',
  data_len: 'u32',
  data_uptr: 'u64',
  // union { __u32 in_data_type; __u32 out_data_type; }
  in_data_type: 'u32',
  out_data_type: { aliasOf: 'in_data_type' },
  out_max_pasid_log2: 'u8',
  __reserved: { array: 'u8', length: 3 },
  out_capabilities: 'u64',
});

export const iommu_hwpt_set_dirty_tracking = defineStruct('iommu_hwpt_set_dirty_tracking', {
  size: 'u32',
  flags: 'u32',
  hwpt_id: 'u32',
  __reserved: 'u32',
});

export const iommu_hwpt_get_dirty_bitmap = defineStruct('iommu_hwpt_get_dirty_bitmap', {
  size: 'u32',
  hwpt_id: 'u32',
  flags: 'u32',
  __reserved: 'u32',
  iova: 'u64',
  length: 'u64',
  page_size: 'u64',
  data: 'u64',
});

export const iommu_hwpt_invalidate = defineStruct('iommu_hwpt_invalidate', {
  size: 'u32',
  hwpt_id: 'u32',
  data_uptr: 'u64',
  data_type: 'u32',
  entry_len: 'u32',
  entry_num: 'u32',
  __reserved: 'u32',
});

export const iommu_fault_alloc = defineStruct('iommu_fault_alloc', {
  size: 'u32',
  flags: 'u32',
  out_fault_id: 'u32',
  out_fault_fd: 'u32',
});

export const iommu_viommu_alloc = defineStruct('iommu_viommu_alloc', {
  size: 'u32',
  flags: 'u32',
  type: 'u32',
  dev_id: 'u32',
  hwpt_id: 'u32',
  out_viommu_id: 'u32',
  data_len: 'u32',
  __reserved: 'u32',
  data_uptr: 'u64',
});

export const iommu_vdevice_alloc = defineStruct('iommu_vdevice_alloc', {
  size: 'u32',
  viommu_id: 'u32',
  dev_id: 'u32',
  out_vdevice_id: 'u32',
  virt_id: 'u64',
});

export const iommu_ioas_change_process = defineStruct('iommu_ioas_change_process', {
  size: 'u32',
  __reserved: 'u32',
});

export const iommu_veventq_alloc = defineStruct('iommu_veventq_alloc', {
  size: 'u32',
  flags: 'u32',
  viommu_id: 'u32',
  type: 'u32',
  veventq_depth: 'u32',
  out_veventq_id: 'u32',
  out_veventq_fd: 'u32',
  __reserved: 'u32',
});

export const iommu_hw_queue_alloc = defineStruct('iommu_hw_queue_alloc', {
  size: 'u32',
  flags: 'u32',
  viommu_id: 'u32',
  type: 'u32',
  index: 'u32',
  out_hw_queue_id: 'u32',
  nesting_parent_iova: 'u64',
  length: 'u64',
});

/** One page-fault message, read() from a fault fd in multiples of its size. */
export const iommu_hwpt_pgfault = defineStruct('iommu_hwpt_pgfault', {
  flags: 'u32',
  dev_id: 'u32',
  pasid: 'u32',
  grpid: 'u32',
  perm: 'u32',
  __reserved: 'u32',
  addr: 'u64',
  length: 'u32',
  cookie: 'u32',
});

/** One response, write() to a fault fd. */
export const iommu_hwpt_page_response = defineStruct('iommu_hwpt_page_response', {
  cookie: 'u32',
  code: 'u32',
});

/** Precedes every record read() from a vEVENTQ fd; the type-specific payload follows it. */
export const iommufd_vevent_header = defineStruct('iommufd_vevent_header', {
  flags: 'u32',
  sequence: 'u32',
});
