/**
 * Which fields of a typed call's struct come back to the caller: every `out_*` field, plus the
 * fields the kernel both reads and writes, listed here. The same table types the results
 * (ioctl-types.ts), so what a call returns and what its type says cannot drift apart.
 */
export const INOUT = {
  IOMMU_IOAS_MAP: ['iova'],
  IOMMU_IOAS_MAP_FILE: ['iova'],
  IOMMU_IOAS_COPY: ['dst_iova'],
  IOMMU_IOAS_UNMAP: ['length'],
  IOMMU_IOAS_IOVA_RANGES: ['num_iovas'],
  IOMMU_OPTION: ['val64'],
  IOMMU_VFIO_IOAS: ['ioas_id'],
  IOMMU_GET_HW_INFO: ['data_len'],
  IOMMU_HWPT_INVALIDATE: ['entry_num'],
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: ['pt_id'],
  VFIO_IOMMU_GET_INFO: ['argsz', 'flags', 'iova_pgsizes', 'cap_offset'],
  VFIO_IOMMU_UNMAP_DMA: ['size'],
} as const;

export type InoutName = keyof typeof INOUT;

export type Outputs = Record<string, unknown>;

const NO_INOUT: readonly string[] = [];

/** The output fields of a decoded struct. IOMMU_TEST_CMD returns the union member `op` selects. */
export function outputs(name: string, decoded: object): Outputs {
  const d = decoded as Record<string, unknown>;
  const out: Outputs = {};
  if (name === 'IOMMU_TEST_CMD') {
    for (const [k, v] of Object.entries(d)) if (typeof v === 'object' && v !== null) out[k] = v;
    return out;
  }
  const inout: readonly string[] = Object.hasOwn(INOUT, name) ? INOUT[name as InoutName] : NO_INOUT;
  for (const [k, v] of Object.entries(d)) if (k.startsWith('out_') || inout.includes(k)) out[k] = v;
  return out;
}
