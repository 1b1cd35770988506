import type { VendorName } from '../../vendors/driver.ts';
import type { KernelDevice } from '../kernel/iommu-core.ts';
import type { IommufdDevice } from './device.ts';
import type { PageRequest } from './fault.ts';
import { type Attach, NO_PASID } from './igroup.ts';
import {
  IOMMU_PGFAULT_FLAGS_LAST_PAGE,
  IOMMU_PGFAULT_FLAGS_PASID_VALID,
  IOMMUFD_PAGE_RESP_INVALID,
} from './uapi-iommufd.ts';

/** A page request as a device raises it (`iommu_report_device_fault`'s `iopf_fault`). */
export interface DevicePageRequest {
  /** Undefined: a request without PASID (routed to the RID attachment). */
  readonly pasid: number | undefined;
  readonly grpid: number;
  readonly perm: number;
  readonly addr: bigint;
  readonly lastPage: boolean;
}

/**
 * Drivers whose guests own the PASID table (`iommu_ops.user_pasid_table`): a request for a PASID
 * with no attachment of its own goes to a nested domain on the RID.
 */
const USER_PASID_TABLE: ReadonlySet<VendorName> = new Set(['mock', 'arm-smmuv3']);

/** Requests of groups whose LAST_PAGE has not arrived yet (`iopf_param->partial`), per device. */
const PARTIAL = new WeakMap<KernelDevice, PageRequest[]>();

/** `find_fault_handler`: the attachment whose hwpt takes the request, if it has a fault queue. */
function findFaultHandler(
  idev: IommufdDevice,
  pasid: number | undefined,
): [Attach, number | undefined] | undefined {
  const attaches = idev.igroup.pasidAttach;
  let found: [Attach, number | undefined] | undefined;
  if (pasid !== undefined) {
    const own = attaches.get(pasid);
    if (own) found = [own, pasid];
    else if (USER_PASID_TABLE.has(idev.kdev.iommu.driver.vendor)) {
      const rid = attaches.get(NO_PASID);
      if (rid?.hwpt.type === 'HWPT_NESTED') found = [rid, undefined];
    }
  } else {
    const rid = attaches.get(NO_PASID);
    if (rid) found = [rid, undefined];
  }
  return found?.[0].hwpt.fault ? found : undefined;
}

/**
 * `iommu_report_device_fault`: a request that is not the group's last waits for it; the last one
 * assembles the group and queues it on the fault of the hwpt it is routed to. With nowhere to go
 * (no attachment, or no fault on its hwpt) the device gets an INVALID response at once.
 */
export function reportDeviceFault(idev: IommufdDevice, req: DevicePageRequest): void {
  const driver = idev.kdev.iommu.driver;
  const request: PageRequest = {
    flags:
      (req.pasid !== undefined ? IOMMU_PGFAULT_FLAGS_PASID_VALID : 0) |
      (req.lastPage ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0),
    pasid: req.pasid ?? 0,
    grpid: req.grpid,
    perm: req.perm,
    addr: req.addr,
  };
  const handler = findFaultHandler(idev, req.pasid);
  if (!handler) {
    driver.pageResponse?.(idev.dev, req.pasid, req.grpid, IOMMUFD_PAGE_RESP_INVALID);
    return;
  }
  const partial = PARTIAL.get(idev.kdev) ?? [];
  if (!req.lastPage) {
    partial.push(request);
    PARTIAL.set(idev.kdev, partial);
    return;
  }
  // iopf_group_alloc moves each partial to the list head, before the last request: reversed.
  const mine = partial.filter((p) => p.grpid === req.grpid).reverse();
  PARTIAL.set(
    idev.kdev,
    partial.filter((p) => p.grpid !== req.grpid),
  );
  const [attach, handlePasid] = handler;
  attach.hwpt.fault!.deliver({
    devId: idev.id,
    dev: idev.dev,
    respond: (dev, pasid, grpid, code) => driver.pageResponse?.(dev, pasid, grpid, code),
    igroup: idev.igroup,
    handlePasid,
    faults: [...mine, request],
    last: request,
  });
}
