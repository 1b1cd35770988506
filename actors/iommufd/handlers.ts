import { iommufdTestCmd } from '../../vendors/mock/test-cmd.ts';
import { iommufdIoasChangeProcess } from './change-process.ts';
import { iommufdDestroy } from './destroy.ts';
import { iommufdGetHwInfo } from './device.ts';
import { iommufdHwptGetDirtyBitmap, iommufdHwptSetDirtyTracking } from './dirty.ts';
import { iommufdFaultAlloc } from './fault.ts';
import { iommufdHwQueueAlloc } from './hw-queue.ts';
import { iommufdHwptAlloc } from './hwpt-alloc.ts';
import { iommufdHwptInvalidate } from './hwpt-invalidate.ts';
import {
  iommufdIoasAlloc,
  iommufdIoasAllowIovas,
  iommufdIoasCopy,
  iommufdIoasIovaRanges,
  iommufdIoasMap,
  iommufdIoasMapFile,
  iommufdIoasUnmap,
} from './ioas.ts';
import type { IoctlArg, IoctlName } from './ioctl-table.ts';
import { iommufdOption } from './option.ts';
import type { Handler } from './ucmd.ts';
import { iommufdVdeviceAlloc } from './vdevice.ts';
import { iommufdVeventqAlloc } from './veventq.ts';
import { iommufdVfioIoas } from './vfio-ioas.ts';
import { iommufdViommuAlloc } from './viommu.ts';

/** `iommufd_ioctl_ops`: the execute function of every ioctl, by its kernel name. */
export const HANDLERS: { [N in IoctlName]: Handler<IoctlArg<N>> } = {
  IOMMU_DESTROY: iommufdDestroy,
  IOMMU_IOAS_ALLOC: iommufdIoasAlloc,
  IOMMU_IOAS_ALLOW_IOVAS: iommufdIoasAllowIovas,
  IOMMU_IOAS_COPY: iommufdIoasCopy,
  IOMMU_IOAS_IOVA_RANGES: iommufdIoasIovaRanges,
  IOMMU_IOAS_MAP: iommufdIoasMap,
  IOMMU_IOAS_UNMAP: iommufdIoasUnmap,
  IOMMU_OPTION: iommufdOption,
  IOMMU_VFIO_IOAS: iommufdVfioIoas,
  IOMMU_HWPT_ALLOC: iommufdHwptAlloc,
  IOMMU_GET_HW_INFO: iommufdGetHwInfo,
  IOMMU_HWPT_SET_DIRTY_TRACKING: iommufdHwptSetDirtyTracking,
  IOMMU_HWPT_GET_DIRTY_BITMAP: iommufdHwptGetDirtyBitmap,
  IOMMU_HWPT_INVALIDATE: iommufdHwptInvalidate,
  IOMMU_FAULT_QUEUE_ALLOC: iommufdFaultAlloc,
  IOMMU_IOAS_MAP_FILE: iommufdIoasMapFile,
  IOMMU_VIOMMU_ALLOC: iommufdViommuAlloc,
  IOMMU_VDEVICE_ALLOC: iommufdVdeviceAlloc,
  IOMMU_IOAS_CHANGE_PROCESS: iommufdIoasChangeProcess,
  IOMMU_VEVENTQ_ALLOC: iommufdVeventqAlloc,
  IOMMU_HW_QUEUE_ALLOC: iommufdHwQueueAlloc,
  IOMMU_TEST_CMD: iommufdTestCmd,
};
