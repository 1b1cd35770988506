import { fail } from '../../actors/iommufd/errno.ts';
import type { StructLayout } from '../../actors/iommufd/struct.ts';
import {
  IOMMU_HW_QUEUE_TYPE_SELFTEST,
  IOMMU_TEST_HW_QUEUE_MAX,
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  MOCK_DEV_CACHE_ID_MAX,
} from '../../actors/iommufd/uapi-selftest.ts';
import {
  iommu_viommu_invalidate_selftest,
  iommu_viommu_selftest,
} from '../../actors/iommufd/uapi-structs-selftest.ts';
import { PAGE_SIZE_N } from '../../actors/mem/page.ts';
import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type {
  DeviceRef,
  HwQueueRef,
  InvalidateResult,
  NestedDomain,
  UserData,
  UserDataArray,
  VdeviceRef,
  ViommuDriverObject,
  ViommuRef,
} from '../driver.ts';
import { mockDevCache } from './dev-cache.ts';
import type { MockDriver } from './driver.ts';

/**
 * `iommu_copy_struct_from_user`: type mismatch or a length short of `minField` is EINVAL; a
 * longer payload must be zero past the struct (E2BIG); a shorter one is zero-extended.
 */
function copyStructFromUser<T extends object>(
  data: UserData,
  type: number,
  layout: StructLayout<T>,
  minField: keyof T & string,
): T {
  if (data.type !== type) fail('EINVAL', `data type 0x${data.type.toString(16)}`);
  if (data.len < layout.offsetofend(minField)) fail('EINVAL', `data_len ${data.len}`);
  const bytes = data.read();
  if (bytes.subarray(layout.sizeof).some((b) => b !== 0)) fail('E2BIG', 'non-zero bytes past the struct');
  return layout.decode(bytes);
}

/**
 * `iommu_copy_struct_from_full_user_array`: every entry is copied before any is used (so a bad
 * copy handles none); an entry_len other than the struct's is copy_struct_from_user per entry.
 */
function copyFullUserArray<T extends object>(
  array: UserDataArray,
  type: number,
  layout: StructLayout<T>,
): T[] {
  if (array.type !== type) fail('EINVAL', `array type 0x${array.type.toString(16)}`);
  if (!array.entryNum) fail('EINVAL', 'empty array');
  const out: T[] = [];
  for (let i = 0; i < array.entryNum; i++) {
    const bytes = array.entry(i);
    if (bytes.subarray(layout.sizeof).some((b) => b !== 0)) fail('E2BIG', `entry ${i} has a non-zero tail`);
    out.push(layout.decode(bytes));
  }
  return out;
}

/**
 * The selftest's mock vIOMMU (`struct mock_viommu`): with init data it exposes a 2-page region
 * for mmap whose first u32 is `in_data`, echoes `in_data` as `out_data`, allocates nested
 * domains that need a vDEVICE here to attach, invalidates its devices' mock caches, and takes up
 * to IOMMU_TEST_HW_QUEUE_MAX queues, each after its predecessor.
 */
export class MockViommu implements ViommuDriverObject {
  readonly outData: Uint8Array | undefined;
  readonly #vdevs = new Set<VdeviceRef>();
  readonly #queues: Array<HwQueueRef | undefined> = new Array(IOMMU_TEST_HW_QUEUE_MAX).fill(undefined);
  #pagePfn: bigint | undefined;

  constructor(
    readonly driver: MockDriver,
    readonly phys: PhysMemory,
    readonly viommu: ViommuRef,
    data: UserData | undefined,
  ) {
    if (!data) return;
    const cfg = copyStructFromUser(data, IOMMU_VIOMMU_TYPE_SELFTEST, iommu_viommu_selftest, 'out_data');
    phys.failNth.point('table', 'mock.viommu_page');
    const pfn = phys.allocContiguous(2, 1);
    const pa = pfn * PAGE_SIZE_N;
    let offset: bigint;
    try {
      offset = viommu.allocMmap(pa, 2n * PAGE_SIZE_N);
    } catch (err) {
      phys.put(pfn);
      phys.put(pfn + 1n);
      throw err;
    }
    this.#pagePfn = pfn;
    // Loopback for the selftest: the page and out_data both carry in_data.
    phys.writeU32(pa, cfg.in_data);
    this.outData = iommu_viommu_selftest.encode({
      in_data: cfg.in_data,
      out_data: cfg.in_data,
      out_mmap_offset: offset,
      out_mmap_length: 2n * PAGE_SIZE_N,
    });
  }

  /** Physical address of the mmap-able region (undefined without init data). */
  get regionPa(): bigint | undefined {
    return this.#pagePfn === undefined ? undefined : this.#pagePfn * PAGE_SIZE_N;
  }

  allocDomainNested(_dev: DeviceRef, flags: number, data: UserData): NestedDomain {
    return this.driver.allocNested(this.viommu.parent, flags, data, (dev) => this.#hasVdev(dev));
  }

  /** `mock_viommu_cache_invalidate`: clears device cache entries named by vDEVICE virtual ID. */
  async cacheInvalidate(array: UserDataArray): Promise<InvalidateResult> {
    // A zero-length array probes the type.
    if (array.entryNum === 0 && array.type === IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST) return { handled: 0 };
    let cmds: Array<{ flags: number; vdev_id: number; cache_id: number }>;
    try {
      cmds = copyFullUserArray(
        array,
        IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
        iommu_viommu_invalidate_selftest,
      );
    } catch (error) {
      return { handled: 0, error };
    }
    let handled = 0;
    try {
      for (const cmd of cmds) {
        if (cmd.flags & ~IOMMU_TEST_INVALIDATE_FLAG_ALL)
          fail('EOPNOTSUPP', `flags 0x${cmd.flags.toString(16)}`);
        if (cmd.cache_id > MOCK_DEV_CACHE_ID_MAX) fail('EINVAL', `cache_id ${cmd.cache_id}`);
        const vdev = this.viommu.vdevByVirtId(BigInt(cmd.vdev_id));
        if (!vdev) fail('EINVAL', `no vDEVICE 0x${cmd.vdev_id.toString(16)}`);
        const cache = mockDevCache(vdev.dev);
        if (cmd.flags & IOMMU_TEST_INVALIDATE_FLAG_ALL) cache.fill(0);
        else cache[cmd.cache_id] = 0;
        handled++;
      }
    } catch (error) {
      return { handled, error };
    }
    return { handled };
  }

  vdeviceInit(vdev: VdeviceRef): void {
    this.#vdevs.add(vdev);
  }

  vdeviceDestroy(vdev: VdeviceRef): void {
    this.#vdevs.delete(vdev);
  }

  hwQueueSupported(type: number): boolean {
    return type === IOMMU_HW_QUEUE_TYPE_SELFTEST;
  }

  /** `mock_hw_queue_init_phys`: slots 0..1, in order, at the PA the parent's S2 gives. */
  hwQueueInit(queue: HwQueueRef, _prev: HwQueueRef | undefined): void {
    const index = queue.index;
    if (index >= IOMMU_TEST_HW_QUEUE_MAX) fail('EINVAL', `queue index ${index}`);
    if (this.#queues[index]) fail('EEXIST', `queue ${index} is in use`);
    if (index > 0 && !this.#queues[index - 1]) fail('EIO', `queue ${index - 1} does not exist`);
    // Catches a core that translated the queue's IOVA wrongly.
    if (this.viommu.parent.iovaToPhys(queue.nestingParentIova) !== queue.basePa) {
      fail('EFAULT', 'base PA does not match the S2 translation');
    }
    this.#queues[index] = queue;
  }

  hwQueueDestroy(queue: HwQueueRef): void {
    if (this.#queues[queue.index] === queue) this.#queues[queue.index] = undefined;
  }

  destroy(): void {
    if (this.#pagePfn === undefined) return;
    this.phys.put(this.#pagePfn);
    this.phys.put(this.#pagePfn + 1n);
    this.#pagePfn = undefined;
  }

  #hasVdev(dev: DeviceRef): boolean {
    for (const v of this.#vdevs) if (v.dev === dev) return true;
    return false;
  }
}

/** Installs the mock vIOMMU on a mock driver (`mock_viommu_init` behind `viommu_init`). */
export function installMockViommu(driver: MockDriver, phys: PhysMemory): void {
  driver.viommuFactory = (viommu, _dev, data) => new MockViommu(driver, phys, viommu, data);
}
