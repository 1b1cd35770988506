/**
 * The typed VFIO calls: the device cdev's bind/attach/detach, and the type1 container calls
 * that /dev/iommu answers (vfio_compat.c). Keyed by the kernel macro name, like IOCTLS.
 */
import {
  vfio_device_attach_iommufd_pt,
  vfio_device_bind_iommufd,
  vfio_device_detach_iommufd_pt,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
} from '../iommufd/uapi-structs-vfio.ts';
import {
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
} from '../iommufd/uapi-vfio.ts';

export const VFIO_DEVICE_IOCTLS = {
  VFIO_DEVICE_BIND_IOMMUFD: { cmd: VFIO_DEVICE_BIND_IOMMUFD, layout: vfio_device_bind_iommufd },
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: {
    cmd: VFIO_DEVICE_ATTACH_IOMMUFD_PT,
    layout: vfio_device_attach_iommufd_pt,
  },
  VFIO_DEVICE_DETACH_IOMMUFD_PT: {
    cmd: VFIO_DEVICE_DETACH_IOMMUFD_PT,
    layout: vfio_device_detach_iommufd_pt,
  },
} as const;

/** VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION and VFIO_SET_IOMMU take an integer: use ioctlRaw. */
export const VFIO_COMPAT_IOCTLS = {
  VFIO_IOMMU_GET_INFO: { cmd: VFIO_IOMMU_GET_INFO, layout: vfio_iommu_type1_info },
  VFIO_IOMMU_MAP_DMA: { cmd: VFIO_IOMMU_MAP_DMA, layout: vfio_iommu_type1_dma_map },
  VFIO_IOMMU_UNMAP_DMA: { cmd: VFIO_IOMMU_UNMAP_DMA, layout: vfio_iommu_type1_dma_unmap },
} as const;

export type VfioDeviceIoctlName = keyof typeof VFIO_DEVICE_IOCTLS;
export type VfioCompatIoctlName = keyof typeof VFIO_COMPAT_IOCTLS;
