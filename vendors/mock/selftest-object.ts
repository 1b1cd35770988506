import { type IommufdDevice, iommufdDeviceUnbind } from '../../actors/iommufd/device.ts';
import type { MockBus } from '../../actors/iommufd/env.ts';
import { IommufdObject } from '../../actors/iommufd/object.ts';
import type { KernelDevice } from '../../actors/kernel/iommu-core.ts';

/**
 * IOMMUFD_OBJ_SELFTEST (a "stdev"): a mock device created by IOMMU_TEST_OP_MOCK_DOMAIN, bound
 * to the ctx. Destroying it detaches, unbinds and unplugs the device.
 */
export class SelftestDevice extends IommufdObject {
  readonly type = 'SELFTEST' as const;
  idev: IommufdDevice | undefined;

  constructor(
    readonly kdev: KernelDevice,
    private readonly bus: MockBus,
  ) {
    super();
  }

  async destroy(): Promise<void> {
    if (this.idev) await iommufdDeviceUnbind(this.idev);
    this.idev = undefined;
    this.bus.destroyDevice(this.kdev);
  }
}
