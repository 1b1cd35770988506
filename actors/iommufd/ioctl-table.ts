/**
 * The dispatch table of `iommufd_fops_ioctl` (main.c `iommufd_ioctl_ops`): for each ioctl its number,
 * argument struct and `min_size`, the offsetofend of the last field every caller must supply.
 * Behaviour lives elsewhere; this is only the table.
 */
import type { StructLayout, ValueOf } from './struct.ts';
import { IOMMUFD_CMD_BASE, IOMMUFD_TYPE } from './uapi-ioctls.ts';
import * as s from './uapi-structs-iommufd.ts';
import { testCmdLayout } from './uapi-test-cmd.ts';

export interface IoctlDef<N extends string, T extends object> {
  readonly name: N;
  /** `_IOC_NR(cmd)`. */
  readonly nr: number;
  readonly cmd: number;
  readonly layout: StructLayout<T>;
  readonly minField: keyof T & string;
  /** `offsetofend(layout, minField)`: a smaller user `size` is EINVAL. */
  readonly minSize: number;
}

function op<const N extends string, T extends object>(
  name: N,
  nr: number,
  layout: StructLayout<T>,
  minField: keyof T & string,
): IoctlDef<N, T> {
  const cmd = (IOMMUFD_TYPE << 8) | nr;
  return Object.freeze({ name, nr, cmd, layout, minField, minSize: layout.offsetofend(minField) });
}

/** Keyed by the kernel macro name, so each entry keeps its struct's precise type. */
export const IOCTLS = {
  IOMMU_DESTROY: op('IOMMU_DESTROY', 0x80, s.iommu_destroy, 'id'),
  IOMMU_IOAS_ALLOC: op('IOMMU_IOAS_ALLOC', 0x81, s.iommu_ioas_alloc, 'out_ioas_id'),
  IOMMU_IOAS_ALLOW_IOVAS: op('IOMMU_IOAS_ALLOW_IOVAS', 0x82, s.iommu_ioas_allow_iovas, 'allowed_iovas'),
  IOMMU_IOAS_COPY: op('IOMMU_IOAS_COPY', 0x83, s.iommu_ioas_copy, 'src_iova'),
  IOMMU_IOAS_IOVA_RANGES: op('IOMMU_IOAS_IOVA_RANGES', 0x84, s.iommu_ioas_iova_ranges, 'out_iova_alignment'),
  IOMMU_IOAS_MAP: op('IOMMU_IOAS_MAP', 0x85, s.iommu_ioas_map, 'iova'),
  IOMMU_IOAS_UNMAP: op('IOMMU_IOAS_UNMAP', 0x86, s.iommu_ioas_unmap, 'length'),
  IOMMU_OPTION: op('IOMMU_OPTION', 0x87, s.iommu_option, 'val64'),
  IOMMU_VFIO_IOAS: op('IOMMU_VFIO_IOAS', 0x88, s.iommu_vfio_ioas, '__reserved'),
  // data_type, data_len, data_uptr and fault_id lie past min_size, so older callers may omit them.
  IOMMU_HWPT_ALLOC: op('IOMMU_HWPT_ALLOC', 0x89, s.iommu_hwpt_alloc, '__reserved'),
  IOMMU_GET_HW_INFO: op('IOMMU_GET_HW_INFO', 0x8a, s.iommu_hw_info, '__reserved'),
  IOMMU_HWPT_SET_DIRTY_TRACKING: op(
    'IOMMU_HWPT_SET_DIRTY_TRACKING',
    0x8b,
    s.iommu_hwpt_set_dirty_tracking,
    '__reserved',
  ),
  IOMMU_HWPT_GET_DIRTY_BITMAP: op('IOMMU_HWPT_GET_DIRTY_BITMAP', 0x8c, s.iommu_hwpt_get_dirty_bitmap, 'data'),
  IOMMU_HWPT_INVALIDATE: op('IOMMU_HWPT_INVALIDATE', 0x8d, s.iommu_hwpt_invalidate, '__reserved'),
  IOMMU_FAULT_QUEUE_ALLOC: op('IOMMU_FAULT_QUEUE_ALLOC', 0x8e, s.iommu_fault_alloc, 'out_fault_fd'),
  IOMMU_IOAS_MAP_FILE: op('IOMMU_IOAS_MAP_FILE', 0x8f, s.iommu_ioas_map_file, 'iova'),
  IOMMU_VIOMMU_ALLOC: op('IOMMU_VIOMMU_ALLOC', 0x90, s.iommu_viommu_alloc, 'out_viommu_id'),
  IOMMU_VDEVICE_ALLOC: op('IOMMU_VDEVICE_ALLOC', 0x91, s.iommu_vdevice_alloc, 'virt_id'),
  IOMMU_IOAS_CHANGE_PROCESS: op('IOMMU_IOAS_CHANGE_PROCESS', 0x92, s.iommu_ioas_change_process, '__reserved'),
  IOMMU_VEVENTQ_ALLOC: op('IOMMU_VEVENTQ_ALLOC', 0x93, s.iommu_veventq_alloc, 'out_veventq_fd'),
  IOMMU_HW_QUEUE_ALLOC: op('IOMMU_HW_QUEUE_ALLOC', 0x94, s.iommu_hw_queue_alloc, 'length'),
  // Only with CONFIG_IOMMUFD_TEST: IOMMUFD_CMD_BASE + 32.
  IOMMU_TEST_CMD: op('IOMMU_TEST_CMD', IOMMUFD_CMD_BASE + 32, testCmdLayout, 'last'),
} as const;

/** An iommufd ioctl by its kernel macro name: `'IOMMU_IOAS_MAP'` ... */
export type IoctlName = keyof typeof IOCTLS;
export type IoctlEntry = (typeof IOCTLS)[IoctlName];
/** The argument struct of an ioctl, e.g. `IoctlArg<'IOMMU_IOAS_MAP'>['iova']` is a bigint. */
export type IoctlArg<N extends IoctlName> = ValueOf<(typeof IOCTLS)[N]['layout']>;

/** In ascending `nr` order. */
export const IOCTL_TABLE: readonly IoctlEntry[] = Object.freeze(Object.values(IOCTLS));

const BY_CMD: ReadonlyMap<number, IoctlEntry> = new Map(IOCTL_TABLE.map((e) => [e.cmd, e]));

export function ioctlByName<N extends IoctlName>(name: N): (typeof IOCTLS)[N];
export function ioctlByName(name: string): IoctlEntry | undefined;
export function ioctlByName(name: string): IoctlEntry | undefined {
  return Object.hasOwn(IOCTLS, name) ? IOCTLS[name as IoctlName] : undefined;
}

/** The entry for an ioctl number, or undefined for an unused slot (ENOTTY) or a VFIO-compat number. */
export function ioctlByCmd(cmd: number): IoctlEntry | undefined {
  return BY_CMD.get(cmd);
}
