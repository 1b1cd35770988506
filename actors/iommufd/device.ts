import type { KernelDevice } from '../kernel/iommu-core.ts';
import { clearUser } from '../mem/clear-user.ts';
import type { IommufdCtx } from './ctx.ts';
import { ctxFileGet, ctxFilePut } from './ctx-file.ts';
import { check, fail } from './errno.ts';
import { detachAll, type IommufdGroup, igroupFor } from './igroup.ts';
import type { IoctlArg } from './ioctl-table.ts';
import { IommufdObject } from './object.ts';
import {
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED,
  IOMMU_HW_INFO_FLAG_INPUT_TYPE,
  IOMMU_HW_INFO_TYPE_DEFAULT,
  IOMMU_HW_INFO_TYPE_NONE,
} from './uapi-iommufd.ts';
import type { Ucmd } from './ucmd.ts';
import type { Vdevice } from './vdevice.ts';

/**
 * IOMMUFD_OBJ_DEVICE: the binding of a device's DMA to a ctx (`struct iommufd_device`). The
 * binding driver (VFIO, or the selftest) holds an extra reference, so DESTROY is EBUSY.
 */
export class IommufdDevice extends IommufdObject {
  readonly type = 'DEVICE' as const;
  vdev: Vdevice | undefined;
  destroying = false;
  /** Bound by IOMMU_TEST_OP_MOCK_DOMAIN (`iommufd_selftest_is_mock_dev`). */
  selftestMock = false;

  constructor(
    readonly ctx: IommufdCtx,
    readonly kdev: KernelDevice,
    readonly igroup: IommufdGroup,
  ) {
    super();
  }

  get dev() {
    return this.kdev.ref;
  }

  destroy(): void {
    this.ctx.env.host.core.releaseDmaOwner(this.kdev);
    this.igroup.devices.delete(this);
    if (this.igroup.devices.size === 0) this.ctx.igroups.delete(this.kdev.group);
  }
}

/**
 * `iommufd_device_bind`: checks coherency and MSI isolation, claims DMA ownership of the group
 * for this ctx (EBUSY if another ctx or a host driver has it), and creates the DEVICE object.
 */
export function iommufdDeviceBind(
  ctx: IommufdCtx,
  kdev: KernelDevice,
  opts: { allowUnsafeInterrupts?: boolean; selftestMock?: boolean } = {},
) {
  const driver = kdev.iommu.driver;
  check(driver.capable(kdev.ref, 'CACHE_COHERENCY'), 'EINVAL', 'IOMMU cannot enforce cache coherency');
  // iommu_group_has_isolated_msi: every device of the group; the selftest's mock devices are exempt.
  const msiIsolated = kdev.group.devices.every((d) => d.msiIsolated);
  if (!opts.selftestMock && !msiIsolated && !opts.allowUnsafeInterrupts)
    fail('EPERM', 'group lacks isolated MSI');
  ctx.env.host.core.claimDmaOwner(kdev, ctx, ctx.env.host.faults.skipGroupOwnershipCheck);
  let idev: IommufdDevice;
  try {
    idev = ctx.objects.create(() => new IommufdDevice(ctx, kdev, igroupFor(ctx, kdev.group)));
  } catch (err) {
    // out_release_owner / out_group_put: no trace of the bind may stay behind.
    const ig = ctx.igroups.get(kdev.group);
    if (ig?.devices.size === 0) ctx.igroups.delete(kdev.group);
    ctx.env.host.core.releaseDmaOwner(kdev);
    throw err;
  }
  const igroup = idev.igroup;
  idev.selftestMock = opts.selftestMock ?? false;
  igroup.devices.add(idev);
  ctx.objects.finalize(idev);
  idev.get(); // the binding driver's reference
  // A real device keeps the ctx (its file) alive until unbind; a mock device lives inside the ctx.
  if (!idev.selftestMock) ctxFileGet(ctx);
  kdev.notify({ type: 'BIND', ctx: ctx.id });
  return idev;
}

/**
 * `iommufd_device_unbind`: tombstones the vDEVICE, detaches every attachment, gives up DMA
 * ownership and destroys the DEVICE. Always succeeds.
 */
export async function iommufdDeviceUnbind(idev: IommufdDevice): Promise<void> {
  const ctx = idev.ctx;
  idev.destroying = true;
  const vdev = idev.vdev;
  if (vdev?.live) {
    ctx.objects.tombstone(vdev);
    await vdev.destroy();
  }
  try {
    await detachAll(idev);
  } catch (err) {
    // Unbind always succeeds (the blocking itself cannot fail); a driver error past it is a WARN.
    ctx.env.host.core.warnings.push(`unbinding ${idev.dev.name}: ${String(err)}`);
  }
  idev.put();
  if (idev.live) {
    ctx.objects.remove(idev);
    await idev.destroy();
  }
  idev.kdev.notify({ type: 'UNBIND' });
  if (!idev.selftestMock) ctxFilePut(ctx);
}

export function iommufdGetHwInfo(ucmd: Ucmd<IoctlArg<'IOMMU_GET_HW_INFO'>>): void {
  const { cmd, ctx } = ucmd;
  if (cmd.flags & ~IOMMU_HW_INFO_FLAG_INPUT_TYPE || cmd.__reserved.some((b) => b !== 0)) {
    fail('EOPNOTSUPP', 'flags or __reserved');
  }
  if (!(cmd.flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE)) cmd.in_data_type = IOMMU_HW_INFO_TYPE_DEFAULT;
  const idev = ctx.objects.get<IommufdDevice>(cmd.dev_id, 'DEVICE');
  const driver = idev.kdev.iommu.driver;
  let data: Uint8Array = new Uint8Array(0);
  if (driver.hwInfo) {
    const info = driver.hwInfo(idev.dev, cmd.in_data_type);
    if (info.type === IOMMU_HW_INFO_TYPE_NONE) fail('EOPNOTSUPP', 'driver reported no type');
    cmd.out_data_type = info.type;
    data = info.data;
  } else cmd.out_data_type = IOMMU_HW_INFO_TYPE_NONE;
  const mm = ctx.env.process.mm;
  const copyLen = Math.min(cmd.data_len, data.length);
  ctx.env.host.failNth.point('usercopy', 'hw_info_data');
  if (copyLen > 0) mm.write(cmd.data_uptr, data.subarray(0, copyLen));
  if (copyLen < cmd.data_len) clearUser(mm, cmd.data_uptr + BigInt(copyLen), cmd.data_len - copyLen);
  cmd.data_len = data.length;
  let caps = 0n;
  if (driver.capable(idev.dev, 'DIRTY_TRACKING')) caps |= BigInt(IOMMU_HW_CAP_DIRTY_TRACKING);
  if (!driver.capable(idev.dev, 'PCI_ATS_SUPPORTED')) caps |= BigInt(IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED);
  const maxPasids = driver.maxPasids(idev.dev);
  cmd.out_max_pasid_log2 = maxPasids > 0 ? Math.floor(Math.log2(maxPasids)) : 0;
  cmd.out_capabilities = caps;
  ucmd.respond();
}
