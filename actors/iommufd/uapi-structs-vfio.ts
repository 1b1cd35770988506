/**
 * VFIO argument structs (include/uapi/linux/vfio.h) used with iommufd: the device cdev bind/attach
 * calls and the type1 container calls that /dev/iommu emulates. All start with `argsz`, not `size`.
 */
import { defineStruct } from './struct.ts';

export const vfio_device_bind_iommufd = defineStruct('vfio_device_bind_iommufd', {
  argsz: 'u32',
  flags: 'u32',
  iommufd: 's32',
  out_devid: 'u32',
  token_uuid_ptr: 'u64',
});

export const vfio_device_attach_iommufd_pt = defineStruct('vfio_device_attach_iommufd_pt', {
  argsz: 'u32',
  flags: 'u32',
  pt_id: 'u32',
  pasid: 'u32',
});

export const vfio_device_detach_iommufd_pt = defineStruct('vfio_device_detach_iommufd_pt', {
  argsz: 'u32',
  flags: 'u32',
  pasid: 'u32',
});

export const vfio_iommu_type1_dma_map = defineStruct('vfio_iommu_type1_dma_map', {
  argsz: 'u32',
  flags: 'u32',
  vaddr: 'u64',
  iova: 'u64',
  size: 'u64',
});

/** The kernel struct ends in `__u8 data[]` (a vfio_bitmap for GET_DIRTY_BITMAP), not modelled here. */
export const vfio_iommu_type1_dma_unmap = defineStruct('vfio_iommu_type1_dma_unmap', {
  argsz: 'u32',
  flags: 'u32',
  iova: 'u64',
  size: 'u64',
});

export const vfio_iommu_type1_info = defineStruct('vfio_iommu_type1_info', {
  argsz: 'u32',
  flags: 'u32',
  iova_pgsizes: 'u64',
  cap_offset: 'u32',
  pad: 'u32',
});

/** Links the capability chain; `next` is an offset from the start of the info struct, 0 ends it. */
export const vfio_info_cap_header = defineStruct('vfio_info_cap_header', {
  id: 'u16',
  version: 'u16',
  next: 'u32',
});

/** Element of the flexible `iova_ranges[]`; `end` is inclusive. */
export const vfio_iova_range = defineStruct('vfio_iova_range', { start: 'u64', end: 'u64' });

/** Followed by `nr_iovas` vfio_iova_range entries starting at offset `sizeof`. */
export const vfio_iommu_type1_info_cap_iova_range = defineStruct('vfio_iommu_type1_info_cap_iova_range', {
  header: { struct: vfio_info_cap_header },
  nr_iovas: 'u32',
  reserved: 'u32',
});

export const vfio_iommu_type1_info_dma_avail = defineStruct('vfio_iommu_type1_info_dma_avail', {
  header: { struct: vfio_info_cap_header },
  avail: 'u32',
});
