import type { DeviceRef, VdeviceRef } from '../../vendors/driver.ts';
import type { IommufdDevice } from './device.ts';
import { fail } from './errno.ts';
import { ULONG_MAX } from './io-pagetable.ts';
import type { IoctlArg } from './ioctl-table.ts';
import { IommufdObject } from './object.ts';
import type { Ucmd } from './ucmd.ts';
import type { Viommu } from './viommu.ts';

/**
 * IOMMUFD_OBJ_VDEVICE: a device as the vIOMMU names it (its virtual ID: vSID, vRID ...). It
 * references the vIOMMU and holds a wait reference on the DEVICE, which points back at it
 * (`idev->vdev`): one vDEVICE per device, one per virtual ID per vIOMMU.
 */
export class Vdevice extends IommufdObject implements VdeviceRef {
  readonly type = 'VDEVICE' as const;
  /** The driver's `vdevice_init` accepted it, so `vdeviceDestroy` is owed. */
  driverInit = false;
  #released = false;

  constructor(
    readonly viommu: Viommu,
    readonly idev: IommufdDevice,
    readonly virtId: bigint,
  ) {
    super();
    viommu.get();
    idev.get();
    idev.vdev = this;
  }

  get dev(): DeviceRef {
    return this.idev.dev;
  }

  /**
   * `iommufd_vdevice_abort/destroy`. Runs once, whichever comes first: IOMMU_DESTROY, the ctx
   * close, or the device's unbind (which tombstones the ID first).
   */
  destroy(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.driverInit) this.viommu.ops.vdeviceDestroy?.(this);
    // Only our own slot: an allocation that lost the virt_id race must not evict the winner.
    if (this.viommu.vdevs.get(this.virtId) === this) this.viommu.vdevs.delete(this.virtId);
    this.viommu.put();
    if (this.idev.vdev === this) this.idev.vdev = undefined;
    this.idev.put();
  }
}

/**
 * IOMMU_VDEVICE_ALLOC: binds a device of the vIOMMU's physical IOMMU to a virtual ID. The ID is
 * taken before the virt_id is claimed, so a duplicate costs nothing visible.
 */
export function iommufdVdeviceAlloc(ucmd: Ucmd<IoctlArg<'IOMMU_VDEVICE_ALLOC'>>): void {
  const { cmd, ctx } = ucmd;
  // virt_id indexes an xarray (unsigned long).
  if (cmd.virt_id > ULONG_MAX) fail('EINVAL', 'virt_id');
  const viommu = ctx.objects.get<Viommu>(cmd.viommu_id, 'VIOMMU');
  const idev = ctx.objects.get<IommufdDevice>(cmd.dev_id, 'DEVICE');
  if (viommu.iommu !== idev.kdev.iommu) fail('EINVAL', 'device is behind another IOMMU instance');
  if (idev.destroying) fail('ENOENT', 'device is being unbound');
  if (idev.vdev) fail('EEXIST', `device already has vDEVICE ${idev.vdev.id}`);
  const vdev = ctx.objects.create(() => new Vdevice(viommu, idev, cmd.virt_id));
  ucmd.newObj = vdev;
  if (viommu.vdevs.has(cmd.virt_id)) fail('EEXIST', `virt_id 0x${cmd.virt_id.toString(16)} is taken`);
  viommu.vdevs.set(cmd.virt_id, vdev);
  if (viommu.ops.vdeviceInit) {
    ctx.env.host.failNth.point('driver', 'vdevice_init');
    viommu.ops.vdeviceInit(vdev);
    vdev.driverInit = true;
  }
  cmd.out_vdevice_id = vdev.id;
  ucmd.respond();
}
