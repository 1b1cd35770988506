/**
 * Vendor payloads carried by `data_uptr` of HWPT_ALLOC, GET_HW_INFO, VIOMMU_ALLOC and
 * HWPT_INVALIDATE, and the vEVENT payloads; byte-exact with include/uapi/linux/iommufd.h.
 * `__le64` fields are plain u64 here because the simulated host is little endian.
 */
import { defineStruct } from './struct.ts';

// Intel VT-d

export const iommu_hwpt_vtd_s1 = defineStruct('iommu_hwpt_vtd_s1', {
  flags: 'u64',
  pgtbl_addr: 'u64',
  addr_width: 'u32',
  __reserved: 'u32',
});

export const iommu_hwpt_vtd_s1_invalidate = defineStruct('iommu_hwpt_vtd_s1_invalidate', {
  addr: 'u64',
  npages: 'u64',
  flags: 'u32',
  __reserved: 'u32',
});

export const iommu_hw_info_vtd = defineStruct('iommu_hw_info_vtd', {
  flags: 'u32',
  __reserved: 'u32',
  cap_reg: 'u64',
  ecap_reg: 'u64',
});

// ARM SMMUv3

export const iommu_hwpt_arm_smmuv3 = defineStruct('iommu_hwpt_arm_smmuv3', {
  ste: { array: 'u64', length: 2 },
});

export const iommu_viommu_arm_smmuv3_invalidate = defineStruct('iommu_viommu_arm_smmuv3_invalidate', {
  cmd: { array: 'u64', length: 2 },
});

export const iommu_hw_info_arm_smmuv3 = defineStruct('iommu_hw_info_arm_smmuv3', {
  flags: 'u32',
  __reserved: 'u32',
  idr: { array: 'u32', length: 6 },
  iidr: 'u32',
  aidr: 'u32',
});

export const iommu_vevent_arm_smmuv3 = defineStruct('iommu_vevent_arm_smmuv3', {
  evt: { array: 'u64', length: 4 },
});

// NVIDIA Tegra241 CMDQV

export const iommu_viommu_tegra241_cmdqv = defineStruct('iommu_viommu_tegra241_cmdqv', {
  out_vintf_mmap_offset: 'u64',
  out_vintf_mmap_length: 'u64',
});

export const iommu_hw_info_tegra241_cmdqv = defineStruct('iommu_hw_info_tegra241_cmdqv', {
  flags: 'u32',
  version: 'u8',
  log2vcmdqs: 'u8',
  log2vsids: 'u8',
  __reserved: 'u8',
});

export const iommu_vevent_tegra241_cmdqv = defineStruct('iommu_vevent_tegra241_cmdqv', {
  lvcmdq_err_map: { array: 'u64', length: 2 },
});

// AMD

export const iommu_hw_info_amd = defineStruct('iommu_hw_info_amd', { efr: 'u64', efr2: 'u64' });

export const iommu_hwpt_amd_guest = defineStruct('iommu_hwpt_amd_guest', {
  dte: { array: 'u64', length: 4 },
});

// RISC-V (only in the RISC-V tree's header so far)

export const iommu_hw_info_riscv_iommu = defineStruct('iommu_hw_info_riscv_iommu', {
  capability: 'u64',
  fctl: 'u32',
  __reserved: 'u32',
});
