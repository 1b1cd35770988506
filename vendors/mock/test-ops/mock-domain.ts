import type { IommufdCtx } from '../../../actors/iommufd/ctx.ts';
import type { IommufdDevice } from '../../../actors/iommufd/device.ts';
import { iommufdDeviceBind } from '../../../actors/iommufd/device.ts';
import {
  iommufdDeviceAttach,
  iommufdDeviceDetach,
  iommufdDeviceReplace,
} from '../../../actors/iommufd/device-attach.ts';
import { fail } from '../../../actors/iommufd/errno.ts';
import type { Hwpt } from '../../../actors/iommufd/hwpt-nested.ts';
import {
  MOCK_FLAGS_DEVICE_NO_DIRTY,
  MOCK_FLAGS_DEVICE_PASID,
} from '../../../actors/iommufd/uapi-selftest.ts';
import { SelftestDevice } from '../selftest-object.ts';
import type { TestCmdUcmd } from '../test-cmd.ts';

/**
 * IOMMU_TEST_OP_MOCK_DOMAIN(_FLAGS): a mock device (stdev ID), bound (idev ID) and attached
 * to `id` (an IOAS through an auto-domain, or a HWPT). On a fresh fd: IOAS 1, stdev 2, idev 3,
 * hwpt 4.
 */
export async function testMockDomain(ucmd: TestCmdUcmd, withFlags: boolean): Promise<void> {
  const { cmd, ctx } = ucmd;
  const member = withFlags ? cmd.mock_domain_flags! : cmd.mock_domain!;
  const flags = withFlags ? cmd.mock_domain_flags!.dev_flags : 0;
  if (flags & ~(MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_PASID))
    fail('EINVAL', `dev_flags 0x${flags.toString(16)}`);
  const bus = ctx.env.host.mockBus;
  if (!bus) fail('ENOTTY', 'no mock bus');
  const sobj = ctx.objects.create(() => new SelftestDevice(bus.createDevice(flags), bus));
  ucmd.newObj = sobj;
  const idev = iommufdDeviceBind(ctx, sobj.kdev, { selftestMock: true });
  sobj.idev = idev;
  const ptId = await iommufdDeviceAttach(idev, undefined, cmd.id);
  member.out_hwpt_id = ptId;
  member.out_stdev_id = sobj.id;
  member.out_idev_id = idev.id;
  ucmd.respond();
}

/** The mock device behind a stdev ID: ENOENT if missing or not a SELFTEST object. */
export function stdevIdev(ctx: IommufdCtx, id: number): IommufdDevice {
  const sobj = ctx.objects.get<SelftestDevice>(id, 'SELFTEST');
  if (!sobj.idev) fail('EINVAL', 'stdev has no device');
  return sobj.idev;
}

/** IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: moves the stdev's RID attachment to `pt_id`. */
export async function testMockDomainReplace(ucmd: TestCmdUcmd): Promise<void> {
  const { cmd, ctx } = ucmd;
  const idev = stdevIdev(ctx, cmd.id);
  cmd.mock_domain_replace!.pt_id = await iommufdDeviceReplace(
    idev,
    undefined,
    cmd.mock_domain_replace!.pt_id,
  );
  ucmd.respond();
}

/** IOMMU_TEST_OP_PASID_ATTACH / _REPLACE / _DETACH. */
export async function testPasidAttach(
  ucmd: TestCmdUcmd,
  mode: 'attach' | 'replace' | 'detach',
): Promise<void> {
  const { cmd, ctx } = ucmd;
  const idev = stdevIdev(ctx, cmd.id);
  if (mode === 'detach') {
    await iommufdDeviceDetach(idev, cmd.pasid_detach!.pasid);
    return;
  }
  const m = mode === 'attach' ? cmd.pasid_attach! : cmd.pasid_replace!;
  const change = mode === 'attach' ? iommufdDeviceAttach : iommufdDeviceReplace;
  m.pt_id = await change(idev, m.pasid, m.pt_id);
  ucmd.respond();
}

/** IOMMU_TEST_OP_PASID_CHECK_HWPT: hwpt_id 0 means nothing attached at that PASID. */
export function testPasidCheckHwpt(ucmd: TestCmdUcmd): void {
  const { cmd, ctx } = ucmd;
  const idev = stdevIdev(ctx, cmd.id);
  const { pasid, hwpt_id } = cmd.pasid_check!;
  const attached = idev.igroup.pasidAttach.get(pasid)?.hwpt;
  if (hwpt_id === 0) {
    if (attached) fail('EINVAL', `PASID ${pasid} is attached to ${attached.id}`);
    return;
  }
  const hwpt = ctx.objects.get<Hwpt>(hwpt_id, 'HWPT_PAGING', 'HWPT_NESTED');
  if (attached !== hwpt) fail('EINVAL', `PASID ${pasid} is not attached to ${hwpt_id}`);
}
