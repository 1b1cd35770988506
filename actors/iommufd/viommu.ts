import type { UserData, ViommuDriverObject, ViommuRef } from '../../vendors/driver.ts';
import type { IommuInstance } from '../kernel/iommu-core.ts';
import { clearUser } from '../mem/clear-user.ts';
import type { IommufdCtx } from './ctx.ts';
import type { IommufdDevice } from './device.ts';
import { fail } from './errno.ts';
import type { HwQueue } from './hw-queue.ts';
import type { HwptPaging } from './hwpt-paging.ts';
import type { IoctlArg } from './ioctl-table.ts';
import { IommufdObject } from './object.ts';
import { IOMMU_VIOMMU_TYPE_DEFAULT } from './uapi-iommufd.ts';
import type { Ucmd } from './ucmd.ts';
import type { Vdevice } from './vdevice.ts';
import type { Veventq } from './veventq.ts';
import { mmapRegionAlloc, mmapRegionsDestroy } from './viommu-mmap.ts';

/** Until `viommu_init` returns, the vIOMMU has no driver ops (an aborted one has none to destroy). */
const NO_OPS: ViommuDriverObject = { destroy() {} };

/**
 * IOMMUFD_OBJ_VIOMMU: a slice of a physical IOMMU presented to a VM, on a nest-parent HWPT
 * (which it references). It names its vDEVICEs by virtual ID, owns at most one vEVENTQ per
 * event type and the HW queues userspace gave it, and may expose MMIO pages through mmap.
 */
export class Viommu extends IommufdObject {
  readonly type = 'VIOMMU' as const;
  ops: ViommuDriverObject = NO_OPS;
  /** `viommu->vdevs`: by virtual ID. */
  readonly vdevs = new Map<bigint, Vdevice>();
  /** `viommu->veventqs`: by IOMMU_VEVENTQ_TYPE_*. */
  readonly veventqs = new Map<number, Veventq>();
  /** Live HW queues, so a new queue can find the one it depends on. */
  readonly hwQueues = new Set<HwQueue>();
  /** What the driver sees of this object. */
  readonly ref: ViommuRef;

  constructor(
    readonly ctx: IommufdCtx,
    readonly iommu: IommuInstance,
    readonly hwpt: HwptPaging,
    /** IOMMU_VIOMMU_TYPE_*. */
    readonly viommuType: number,
  ) {
    super();
    hwpt.get();
    const self = this;
    this.ref = {
      get id() {
        return self.id;
      },
      type: viommuType,
      parent: hwpt.domain,
      vdevByVirtId: (virtId) => self.vdevs.get(virtId),
      reportEvent: (type, payload) => self.reportEvent(type, payload),
      allocMmap: (pa, length) => mmapRegionAlloc(ctx, self, pa, length),
    };
  }

  /**
   * `iommufd_viommu_report_event`: queues a vEVENT on the queue of that type (EOPNOTSUPP with
   * none), which records a lost event instead once it is full.
   */
  reportEvent(type: number, payload: Uint8Array): void {
    if (payload.length === 0) fail('EINVAL', 'empty vEVENT');
    const q = this.veventqs.get(type) ?? fail('EOPNOTSUPP', `no vEVENTQ of type 0x${type.toString(16)}`);
    q.report(payload);
  }

  /** The vDEVICE of `idev` on this vIOMMU (`iommufd_viommu_get_vdev_id`). */
  vdevOf(idev: IommufdDevice): Vdevice | undefined {
    for (const v of this.vdevs.values()) if (v.idev === idev) return v;
    return undefined;
  }

  destroy(): void {
    this.ops.destroy();
    this.ops = NO_OPS;
    mmapRegionsDestroy(this.ctx, this);
    this.hwpt.put();
  }
}

/**
 * IOMMU_VIOMMU_ALLOC: the object (and its ID) exists before the driver's `viommu_init` runs with
 * the user data (only when data_len != 0); the driver's outputs are copied back to data_uptr.
 */
export function iommufdViommuAlloc(ucmd: Ucmd<IoctlArg<'IOMMU_VIOMMU_ALLOC'>>): void {
  const { cmd, ctx } = ucmd;
  if (cmd.flags || cmd.type === IOMMU_VIOMMU_TYPE_DEFAULT) fail('EOPNOTSUPP', 'flags or type DEFAULT');
  const idev = ctx.objects.get<IommufdDevice>(cmd.dev_id, 'DEVICE');
  const driver = idev.kdev.iommu.driver;
  if (!driver.viommuSupported || !driver.viommuInit) fail('EOPNOTSUPP', 'driver has no vIOMMU');
  if (!driver.viommuSupported(idev.dev, cmd.type))
    fail('EOPNOTSUPP', `vIOMMU type 0x${cmd.type.toString(16)}`);
  const hwpt = ctx.objects.get<HwptPaging>(cmd.hwpt_id, 'HWPT_PAGING');
  if (!hwpt.nestParent) fail('EINVAL', `hwpt ${cmd.hwpt_id} is not a nest parent`);
  const viommu = ctx.objects.create(() => new Viommu(ctx, idev.kdev.iommu, hwpt, cmd.type));
  ucmd.newObj = viommu;
  const mm = ctx.env.process.mm;
  const data: UserData = {
    type: cmd.type,
    len: cmd.data_len,
    read: () => {
      ctx.env.host.failNth.point('usercopy', 'viommu_user_data');
      return mm.read(cmd.data_uptr, cmd.data_len);
    },
  };
  ctx.env.host.failNth.point('driver', 'viommu_init');
  viommu.ops = driver.viommuInit(viommu.ref, idev.dev, cmd.data_len ? data : undefined);
  const out = viommu.ops.outData;
  if (out && cmd.data_len) {
    // copy_struct_to_user: the overlap, then zeroes past what the driver knows.
    const n = Math.min(cmd.data_len, out.length);
    ctx.env.host.failNth.point('usercopy', 'viommu_out_data');
    mm.write(cmd.data_uptr, out.subarray(0, n));
    clearUser(mm, cmd.data_uptr + BigInt(n), cmd.data_len - n);
  }
  cmd.out_viommu_id = viommu.id;
  ucmd.respond();
}
