import type { IommufdDevice } from '../../../actors/iommufd/device.ts';
import { fail } from '../../../actors/iommufd/errno.ts';
import type { HwptNested } from '../../../actors/iommufd/hwpt-nested.ts';
import { NO_PASID } from '../../../actors/iommufd/igroup.ts';
import { reportDeviceFault } from '../../../actors/iommufd/iopf.ts';
import {
  IOMMU_VEVENTQ_TYPE_SELFTEST,
  MOCK_DEV_CACHE_ID_MAX,
  MOCK_NESTED_DOMAIN_IOTLB_ID_MAX,
} from '../../../actors/iommufd/uapi-selftest.ts';
import { iommu_viommu_event_selftest } from '../../../actors/iommufd/uapi-structs-selftest.ts';
import { mockDevCache } from '../dev-cache.ts';
import { MockNestedDomain } from '../nested-domain.ts';
import type { TestCmdUcmd } from '../test-cmd.ts';

/** A mock device's DEVICE object: ENOENT if missing; EINVAL if not behind the mock IOMMU. */
function mockIdev(ucmd: TestCmdUcmd, id: number): IommufdDevice {
  const idev = ucmd.ctx.objects.get<IommufdDevice>(id, 'DEVICE');
  if (idev.kdev.iommu.driver.vendor !== 'mock') fail('EINVAL', `device ${id} is not a mock device`);
  return idev;
}

/** IOMMU_TEST_OP_DEV_CHECK_CACHE: `id` is the DEVICE; cache entry `check_dev_cache.id` must match. */
export function testDevCheckCache(ucmd: TestCmdUcmd): void {
  const { id: cacheId, cache } = ucmd.cmd.check_dev_cache!;
  const idev = mockIdev(ucmd, ucmd.cmd.id);
  if (cacheId > MOCK_DEV_CACHE_ID_MAX || mockDevCache(idev.dev)[cacheId] !== cache) {
    fail('EINVAL', `dev cache[${cacheId}] is not 0x${cache.toString(16)}`);
  }
}

/** IOMMU_TEST_OP_MD_CHECK_IOTLB: `id` is a mock nested HWPT; its IOTLB entry must match. */
export function testMdCheckIotlb(ucmd: TestCmdUcmd): void {
  const { id: iotlbId, iotlb } = ucmd.cmd.check_iotlb!;
  const hwpt = ucmd.ctx.objects.get<HwptNested>(ucmd.cmd.id, 'HWPT_NESTED');
  if (!(hwpt.domain instanceof MockNestedDomain)) fail('EINVAL', 'not a mock nested domain');
  if (iotlbId > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX || hwpt.domain.iotlb[iotlbId] !== iotlb) {
    fail('EINVAL', `iotlb[${iotlbId}] is not 0x${iotlb.toString(16)}`);
  }
}

/**
 * IOMMU_TEST_OP_TRIGGER_IOPF: the device raises a one-request page request group (LAST_PAGE;
 * PASID_VALID unless pasid is 0). Where it goes is the core's business; the op always succeeds.
 */
export function testTriggerIopf(ucmd: TestCmdUcmd): void {
  const { dev_id, pasid, grpid, perm, addr } = ucmd.cmd.trigger_iopf!;
  const idev = ucmd.ctx.objects.get<IommufdDevice>(dev_id, 'DEVICE');
  reportDeviceFault(idev, { pasid: pasid === 0 ? undefined : pasid, grpid, perm, addr, lastPage: true });
}

/**
 * IOMMU_TEST_OP_TRIGGER_VEVENT: a device whose RID is attached to a vIOMMU-nested domain, with a
 * vDEVICE there, reports `iommu_viommu_event_selftest{virt_id}` (ENOENT otherwise; EOPNOTSUPP
 * from the vIOMMU if it has no queue of that type).
 */
export function testTriggerVevent(ucmd: TestCmdUcmd): void {
  const idev = ucmd.ctx.objects.get<IommufdDevice>(ucmd.cmd.trigger_vevent!.dev_id, 'DEVICE');
  const attach = idev.igroup.pasidAttach.get(NO_PASID);
  const hwpt = attach?.devices.has(idev) ? attach.hwpt : undefined;
  const viommu = hwpt?.type === 'HWPT_NESTED' ? hwpt.viommu : undefined;
  const vdev = viommu?.vdevOf(idev);
  // The mock records vdev_id 0 as "none".
  if (!viommu || !vdev || vdev.virtId === 0n) fail('ENOENT', 'device is not attached through a vDEVICE');
  const payload = iommu_viommu_event_selftest.encode({ virt_id: Number(vdev.virtId & 0xffff_ffffn) });
  viommu.reportEvent(IOMMU_VEVENTQ_TYPE_SELFTEST, payload);
}
