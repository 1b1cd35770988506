import type { HwQueueRef } from '../../vendors/driver.ts';
import { alignDown, PAGE_SIZE_N } from '../mem/page.ts';
import {
  type AccessPin,
  accessPinPages,
  accessReplaceIoas,
  accessUnpinPages,
  IommufdAccess,
} from './access.ts';
import type { IommufdCtx } from './ctx.ts';
import { fail } from './errno.ts';
import { ULONG_MAX } from './io-pagetable.ts';
import type { IoctlArg } from './ioctl-table.ts';
import { IommufdObject } from './object.ts';
import { IOMMU_HW_QUEUE_TYPE_DEFAULT } from './uapi-iommufd.ts';
import type { Ucmd } from './ucmd.ts';
import type { Viommu } from './viommu.ts';

/**
 * IOMMUFD_OBJ_HW_QUEUE: a queue the hardware reads straight from guest memory (a vCMDQ). Its
 * memory is pinned and locked (UNMAP is EBUSY) through an internal ACCESS on the parent HWPT's
 * IOAS, whose ID is taken right after the queue's and never becomes visible. A queue may depend
 * on its predecessor (index - 1), which then cannot be destroyed first.
 */
export class HwQueue extends IommufdObject {
  readonly type = 'HW_QUEUE' as const;
  access: IommufdAccess | undefined;
  pin: AccessPin | undefined;
  basePa = 0n;
  /** The queue this one depends on (`iommufd_hw_queue_depend`). */
  depended: HwQueue | undefined;
  #driverInit = false;
  readonly ref: HwQueueRef;

  constructor(
    readonly ctx: IommufdCtx,
    readonly viommu: Viommu,
    /** IOMMU_HW_QUEUE_TYPE_*. */
    readonly queueType: number,
    readonly index: number,
    readonly nestingParentIova: bigint,
    readonly length: bigint,
  ) {
    super();
    viommu.get();
    const self = this;
    this.ref = {
      get id() {
        return self.id;
      },
      type: queueType,
      index,
      get basePa() {
        return self.basePa;
      },
      length,
      nestingParentIova,
    };
  }

  /** `iommufd_hw_queue_alloc_phys`: pins the queue memory, which must be physically contiguous. */
  pinMemory(): void {
    const iova = alignDown(this.nestingParentIova, PAGE_SIZE_N);
    const offset = this.nestingParentIova - iova;
    if (offset + this.length + PAGE_SIZE_N - 1n > ULONG_MAX) fail('ERANGE', 'queue size overflows');
    const length = ((offset + this.length + PAGE_SIZE_N - 1n) / PAGE_SIZE_N) * PAGE_SIZE_N;
    // iommufd_access_create_internal: its ID, right after the queue's, is all userspace sees of it.
    this.access = this.ctx.objects.create(() => new IommufdAccess(this.ctx, { needsPinPages: true }));
    accessReplaceIoas(this.access, this.viommu.hwpt.ioas);
    this.pin = accessPinPages(this.access, iova, length, false, true);
    const frames = this.pin.frames;
    for (let i = 1; i < frames.length; i++) {
      if (frames[i] !== frames[i - 1]! + 1n) fail('EFAULT', 'queue memory is not physically contiguous');
    }
    this.basePa = frames[0]! * PAGE_SIZE_N + offset;
  }

  /** The driver accepted the queue; it now depends on `prev`, if given. */
  initialized(prev: HwQueue | undefined): void {
    this.#driverInit = true;
    this.viommu.hwQueues.add(this);
    if (prev) this.depended = prev.get();
  }

  async destroy(): Promise<void> {
    if (this.#driverInit) {
      this.#driverInit = false;
      this.viommu.ops.hwQueueDestroy?.(this.ref);
      this.viommu.hwQueues.delete(this);
      this.depended?.put();
      this.depended = undefined;
    }
    if (this.access) {
      if (this.pin) accessUnpinPages(this.access, this.pin);
      this.pin = undefined;
      // Never finalized: its ID is released as an aborted object's.
      await this.ctx.objects.abort(this.access);
      this.access = undefined;
    }
    this.viommu.put();
  }
}

/**
 * IOMMU_HW_QUEUE_ALLOC: checks, then the queue object, the pinned memory, and the driver's
 * `hw_queue_init_phys` with the base physical address.
 */
export function iommufdHwQueueAlloc(ucmd: Ucmd<IoctlArg<'IOMMU_HW_QUEUE_ALLOC'>>): void {
  const { cmd, ctx } = ucmd;
  if (cmd.flags || cmd.type === IOMMU_HW_QUEUE_TYPE_DEFAULT) fail('EOPNOTSUPP', 'flags or type DEFAULT');
  if (!cmd.length) fail('EINVAL', 'zero length');
  if (cmd.nesting_parent_iova + cmd.length - 1n > ULONG_MAX) fail('EOVERFLOW', 'iova + length overflows');
  const viommu = ctx.objects.get<Viommu>(cmd.viommu_id, 'VIOMMU');
  const ops = viommu.ops;
  if (!ops.hwQueueSupported || !ops.hwQueueInit || !ops.hwQueueSupported(cmd.type)) {
    fail('EOPNOTSUPP', `HW queue type 0x${cmd.type.toString(16)}`);
  }
  const queue = ctx.objects.create(
    () => new HwQueue(ctx, viommu, cmd.type, cmd.index, cmd.nesting_parent_iova, cmd.length),
  );
  ucmd.newObj = queue;
  queue.pinMemory();
  let prev: HwQueue | undefined;
  for (const q of viommu.hwQueues) if (q.queueType === cmd.type && q.index === cmd.index - 1) prev = q;
  ctx.env.host.failNth.point('driver', 'hw_queue_init');
  ops.hwQueueInit(queue.ref, prev?.ref);
  queue.initialized(prev);
  cmd.out_hw_queue_id = queue.id;
  ucmd.respond();
}
