import {
  IOMMU_PGFAULT_PERM_EXEC,
  IOMMU_PGFAULT_PERM_PRIV,
  IOMMU_PGFAULT_PERM_READ,
  IOMMU_PGFAULT_PERM_WRITE,
  IOMMUFD_PAGE_RESP_INVALID,
  IOMMUFD_PAGE_RESP_SUCCESS,
} from '../../actors/iommufd/uapi-iommufd.ts';
import type { DeviceRef, IopfReport } from '../driver.ts';
import { PPR_STATUS_FAILURE, PPR_STATUS_INVALID, PPR_STATUS_SUCCESS } from './commands.ts';
import {
  PPR_FLAG_EXEC,
  PPR_FLAG_GN,
  PPR_FLAG_READ,
  PPR_FLAG_US,
  PPR_FLAG_WRITE,
  type PprEntry,
} from './events.ts';

/**
 * `iommu_call_iopf_notifier`: a PPR log entry as a page request. AMD PPR has no "last page in
 * group" bit: every request is its own group (LAST_PAGE); the PRG index is the tag's 9 bits.
 */
export function pprReport(dev: DeviceRef, p: PprEntry): IopfReport {
  const perm =
    (p.flags & PPR_FLAG_READ ? IOMMU_PGFAULT_PERM_READ : 0) |
    (p.flags & PPR_FLAG_WRITE ? IOMMU_PGFAULT_PERM_WRITE : 0) |
    (p.flags & PPR_FLAG_EXEC ? IOMMU_PGFAULT_PERM_EXEC : 0) |
    (p.flags & PPR_FLAG_US ? 0 : IOMMU_PGFAULT_PERM_PRIV);
  const pasid = p.flags & PPR_FLAG_GN ? p.pasid : undefined;
  return { dev, pasid, grpid: p.tag & 0x1ff, perm, addr: p.address & ~0xfffn, lastPage: true };
}

/** iommufd response code → COMPLETE_PPR_REQUEST status (0 success, 1 invalid, 0xF failure). */
export function pprStatus(code: number): number {
  if (code === IOMMUFD_PAGE_RESP_SUCCESS) return PPR_STATUS_SUCCESS;
  if (code === IOMMUFD_PAGE_RESP_INVALID) return PPR_STATUS_INVALID;
  return PPR_STATUS_FAILURE;
}
