/**
 * ioctl numbers of /dev/iommu (include/uapi/linux/iommufd.h) and the selftest's IOMMU_TEST_CMD.
 * iommufd encodes neither size nor direction: every command is `_IO(';', nr)`.
 */

/** `_IOC_NRBITS`/`_IOC_TYPEBITS` are 8 each and `_IO` has no direction or size bits. */
export function _IO(type: number, nr: number): number {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new RangeError(`bad ioctl type ${type}`);
  if (!Number.isInteger(nr) || nr < 0 || nr > 0xff) throw new RangeError(`bad ioctl nr ${nr}`);
  return (type << 8) | nr;
}

/** The low byte of an ioctl number (`_IOC_NR`). */
export function _IOC_NR(cmd: number): number {
  return cmd & 0xff;
}

/** The type byte of an ioctl number (`_IOC_TYPE`). */
export function _IOC_TYPE(cmd: number): number {
  return (cmd >>> 8) & 0xff;
}

/** `';'`, shared with VFIO: numbers below the base go to the VFIO compat handler. */
export const IOMMUFD_TYPE = 0x3b;
export const IOMMUFD_CMD_BASE = 0x80;

export const IOMMUFD_CMD_DESTROY = 0x80;
export const IOMMUFD_CMD_IOAS_ALLOC = 0x81;
export const IOMMUFD_CMD_IOAS_ALLOW_IOVAS = 0x82;
export const IOMMUFD_CMD_IOAS_COPY = 0x83;
export const IOMMUFD_CMD_IOAS_IOVA_RANGES = 0x84;
export const IOMMUFD_CMD_IOAS_MAP = 0x85;
export const IOMMUFD_CMD_IOAS_UNMAP = 0x86;
export const IOMMUFD_CMD_OPTION = 0x87;
export const IOMMUFD_CMD_VFIO_IOAS = 0x88;
export const IOMMUFD_CMD_HWPT_ALLOC = 0x89;
export const IOMMUFD_CMD_GET_HW_INFO = 0x8a;
export const IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING = 0x8b;
export const IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP = 0x8c;
export const IOMMUFD_CMD_HWPT_INVALIDATE = 0x8d;
export const IOMMUFD_CMD_FAULT_QUEUE_ALLOC = 0x8e;
export const IOMMUFD_CMD_IOAS_MAP_FILE = 0x8f;
export const IOMMUFD_CMD_VIOMMU_ALLOC = 0x90;
export const IOMMUFD_CMD_VDEVICE_ALLOC = 0x91;
export const IOMMUFD_CMD_IOAS_CHANGE_PROCESS = 0x92;
export const IOMMUFD_CMD_VEVENTQ_ALLOC = 0x93;
export const IOMMUFD_CMD_HW_QUEUE_ALLOC = 0x94;

export const IOMMU_DESTROY = 0x3b80;
export const IOMMU_IOAS_ALLOC = 0x3b81;
export const IOMMU_IOAS_ALLOW_IOVAS = 0x3b82;
export const IOMMU_IOAS_COPY = 0x3b83;
export const IOMMU_IOAS_IOVA_RANGES = 0x3b84;
export const IOMMU_IOAS_MAP = 0x3b85;
export const IOMMU_IOAS_UNMAP = 0x3b86;
export const IOMMU_OPTION = 0x3b87;
export const IOMMU_VFIO_IOAS = 0x3b88;
export const IOMMU_HWPT_ALLOC = 0x3b89;
export const IOMMU_GET_HW_INFO = 0x3b8a;
export const IOMMU_HWPT_SET_DIRTY_TRACKING = 0x3b8b;
export const IOMMU_HWPT_GET_DIRTY_BITMAP = 0x3b8c;
export const IOMMU_HWPT_INVALIDATE = 0x3b8d;
export const IOMMU_FAULT_QUEUE_ALLOC = 0x3b8e;
export const IOMMU_IOAS_MAP_FILE = 0x3b8f;
export const IOMMU_VIOMMU_ALLOC = 0x3b90;
export const IOMMU_VDEVICE_ALLOC = 0x3b91;
export const IOMMU_IOAS_CHANGE_PROCESS = 0x3b92;
export const IOMMU_VEVENTQ_ALLOC = 0x3b93;
export const IOMMU_HW_QUEUE_ALLOC = 0x3b94;

/** Selftest only (CONFIG_IOMMUFD_TEST): `_IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 32)`. */
export const IOMMU_TEST_CMD = 0x3ba0;
