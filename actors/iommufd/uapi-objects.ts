/**
 * `enum iommufd_object_type` from include/linux/iommufd.h. Kernel-internal, but it fixes how the
 * simulator tags objects; ANY is an alias of NONE, and SELFTEST exists only with CONFIG_IOMMUFD_TEST.
 */
export const IOMMUFD_OBJ = {
  NONE: 0,
  ANY: 0,
  DEVICE: 1,
  HWPT_PAGING: 2,
  HWPT_NESTED: 3,
  IOAS: 4,
  ACCESS: 5,
  FAULT: 6,
  VIOMMU: 7,
  VDEVICE: 8,
  VEVENTQ: 9,
  HW_QUEUE: 10,
  SELFTEST: 11,
  MAX: 12,
} as const;

export type IommufdObjName = keyof typeof IOMMUFD_OBJ;
export type IommufdObjType = (typeof IOMMUFD_OBJ)[IommufdObjName];

export const IOMMUFD_OBJ_NONE = IOMMUFD_OBJ.NONE;
export const IOMMUFD_OBJ_ANY = IOMMUFD_OBJ.ANY;
export const IOMMUFD_OBJ_DEVICE = IOMMUFD_OBJ.DEVICE;
export const IOMMUFD_OBJ_HWPT_PAGING = IOMMUFD_OBJ.HWPT_PAGING;
export const IOMMUFD_OBJ_HWPT_NESTED = IOMMUFD_OBJ.HWPT_NESTED;
export const IOMMUFD_OBJ_IOAS = IOMMUFD_OBJ.IOAS;
export const IOMMUFD_OBJ_ACCESS = IOMMUFD_OBJ.ACCESS;
export const IOMMUFD_OBJ_FAULT = IOMMUFD_OBJ.FAULT;
export const IOMMUFD_OBJ_VIOMMU = IOMMUFD_OBJ.VIOMMU;
export const IOMMUFD_OBJ_VDEVICE = IOMMUFD_OBJ.VDEVICE;
export const IOMMUFD_OBJ_VEVENTQ = IOMMUFD_OBJ.VEVENTQ;
export const IOMMUFD_OBJ_HW_QUEUE = IOMMUFD_OBJ.HW_QUEUE;
export const IOMMUFD_OBJ_SELFTEST = IOMMUFD_OBJ.SELFTEST;
export const IOMMUFD_OBJ_MAX = IOMMUFD_OBJ.MAX;
