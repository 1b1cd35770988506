import { fail } from '../../actors/iommufd/errno.ts';
import {
  IOMMU_HW_INFO_TYPE_DEFAULT,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
} from '../../actors/iommufd/uapi-iommufd.ts';
import {
  IOMMU_HW_INFO_SELFTEST_REGVAL,
  IOMMU_HW_INFO_TYPE_SELFTEST,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_TEST_PASID_RESERVED,
  MOCK_APERTURE_LAST,
  MOCK_APERTURE_START,
  MOCK_FLAGS_DEVICE_NO_DIRTY,
  MOCK_HUGE_PAGE_SIZE,
  MOCK_IOMMUPT_AMDV1,
  MOCK_IOMMUPT_DEFAULT,
  MOCK_IOMMUPT_HUGE,
  MOCK_PAGE_SIZE,
  MOCK_PASID_WIDTH,
} from '../../actors/iommufd/uapi-selftest.ts';
import { iommu_hwpt_selftest, iommu_test_hw_info } from '../../actors/iommufd/uapi-structs-selftest.ts';
import { type FailNth, NEVER_FAILS } from '../../actors/runtime/fail-nth.ts';
import type {
  DeviceRef,
  Domain,
  IommuCap,
  IommuDriver,
  NestedDomain,
  PagingDomain,
  ResvRegion,
  UserData,
  ViommuDriverObject,
  ViommuRef,
} from '../driver.ts';
import { copyDriverData } from '../user-data.ts';
import type { MockHardware } from './hardware.ts';
import { MockNestedDomain } from './nested-domain.ts';
import { MockPagingDomain } from './paging-domain.ts';

const PAGE_4K = 4096n;
const MOCK_PGSIZE = BigInt(MOCK_PAGE_SIZE);
const APERTURE_56 = { start: 0n, end: (1n << 56n) - 1n };

/**
 * The kernel selftest's mock IOMMU driver (drivers/iommu/iommufd/selftest.c): 2 KiB pages and
 * a fixed aperture by default, dirty tracking unless the device says NO_DIRTY, nested domains
 * with fake IOTLBs, and the PASID 1024 fault-injection quirk.
 */
export class MockDriver implements IommuDriver {
  readonly vendor = 'mock' as const;
  readonly blockedDomain: Domain;
  /** Per device: the next non-blocking set on PASID 1024 fails (the selftest's rollback probe). */
  readonly #pasid1024Armed = new Set<string>();
  /** vIOMMU support, installed by the mock vIOMMU module. */
  viommuFactory:
    | ((viommu: ViommuRef, dev: DeviceRef, data: UserData | undefined) => ViommuDriverObject)
    | undefined;

  constructor(
    readonly instance: string,
    readonly hw: MockHardware,
    /** The farm's broken-twin switches (`skipPteClear`); none when built standalone. */
    readonly faults?: { readonly skipPteClear: boolean },
    /** The farm's fail_nth, for the mock's table (xarray) allocations. */
    readonly failNth: FailNth = NEVER_FAILS,
  ) {
    this.blockedDomain = {
      kind: 'blocked',
      driver: this,
      attachDev: async (dev, pasid) => {
        this.checkPasidQuirk(dev, pasid, true);
        hw.setDomain(dev.rid, pasid, undefined);
      },
      free: () => {},
    };
  }

  capable(dev: DeviceRef, cap: IommuCap): boolean {
    if (cap === 'CACHE_COHERENCY') return true;
    if (cap === 'DIRTY_TRACKING') return !(dev.flags & MOCK_FLAGS_DEVICE_NO_DIRTY);
    return false;
  }

  maxPasids(dev: DeviceRef): number {
    return dev.pasidBits > 0 ? 1 << MOCK_PASID_WIDTH : 0;
  }

  hwInfo(_dev: DeviceRef, requestedType: number) {
    if (requestedType !== IOMMU_HW_INFO_TYPE_DEFAULT && requestedType !== IOMMU_HW_INFO_TYPE_SELFTEST) {
      fail('EOPNOTSUPP', `hw_info type ${requestedType}`);
    }
    const data = iommu_test_hw_info.encode({ flags: 0, test_reg: IOMMU_HW_INFO_SELFTEST_REGVAL });
    return { type: IOMMU_HW_INFO_TYPE_SELFTEST, data };
  }

  resvRegions(_dev: DeviceRef): ResvRegion[] {
    return [];
  }

  domainAllocPaging(dev: DeviceRef, flags: number, data: UserData | undefined): PagingDomain {
    const known = IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID;
    if (flags & ~known) fail('EOPNOTSUPP', 'mock paging flags');
    const dirty = (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0;
    if (dirty && dev.flags & MOCK_FLAGS_DEVICE_NO_DIRTY) fail('EOPNOTSUPP', 'device has no dirty tracking');
    let pagetable = MOCK_IOMMUPT_DEFAULT;
    if (data) {
      if (data.type !== IOMMU_HWPT_DATA_SELFTEST) fail('EOPNOTSUPP', `data type ${data.type}`);
      pagetable = copyDriverData(data, IOMMU_HWPT_DATA_SELFTEST, iommu_hwpt_selftest, 'iotlb').pagetable_type;
    }
    const nestParent = (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0;
    switch (pagetable) {
      case MOCK_IOMMUPT_DEFAULT:
        return new MockPagingDomain(
          this,
          this.hw,
          MOCK_PGSIZE,
          {
            start: BigInt(MOCK_APERTURE_START),
            end: BigInt(MOCK_APERTURE_LAST),
          },
          nestParent,
          dirty,
        );
      case MOCK_IOMMUPT_HUGE:
        return new MockPagingDomain(
          this,
          this.hw,
          BigInt(MOCK_HUGE_PAGE_SIZE) | PAGE_4K,
          APERTURE_56,
          nestParent,
          dirty,
        );
      case MOCK_IOMMUPT_AMDV1:
        return new MockPagingDomain(
          this,
          this.hw,
          PAGE_4K | (1n << 21n) | (1n << 30n),
          APERTURE_56,
          nestParent,
          dirty,
        );
      default:
        fail('EOPNOTSUPP', `pagetable_type ${pagetable}`);
    }
  }

  domainAllocNested(_dev: DeviceRef, parent: PagingDomain, flags: number, data: UserData): NestedDomain {
    return this.allocNested(parent, flags, data, undefined);
  }

  /** `mock_domain_alloc_nested` shared by the parent and the vIOMMU paths. */
  allocNested(
    parent: PagingDomain,
    flags: number,
    data: UserData,
    requireVdev: ((dev: DeviceRef) => boolean) | undefined,
  ): MockNestedDomain {
    if (flags & ~IOMMU_HWPT_ALLOC_PASID) fail('EOPNOTSUPP', 'mock nested flags');
    if (data.type !== IOMMU_HWPT_DATA_SELFTEST) fail('EOPNOTSUPP', `data type ${data.type}`);
    if (data.len < 4 || data.len > iommu_hwpt_selftest.sizeof) fail('EINVAL', `data_len ${data.len}`);
    const cfg = iommu_hwpt_selftest.decode(data.read());
    return new MockNestedDomain(this, this.hw, parent as MockPagingDomain, cfg.iotlb, requireVdev);
  }

  viommuSupported(_dev: DeviceRef, type: number): boolean {
    return this.viommuFactory !== undefined && type === 0xdeadbeef;
  }

  viommuInit(viommu: ViommuRef, dev: DeviceRef, data: UserData | undefined): ViommuDriverObject {
    if (!this.viommuFactory) fail('EOPNOTSUPP', 'no mock vIOMMU');
    return this.viommuFactory(viommu, dev, data);
  }

  /**
   * `mock_domain_set_dev_pasid_nop`: on PASID 1024 the first set arms a fake error and the next
   * non-blocking set fails with ENOMEM, so the core's rollback is exercised; blocking disarms.
   */
  checkPasidQuirk(dev: DeviceRef, pasid: number | undefined, blocking: boolean): void {
    if (pasid !== IOMMU_TEST_PASID_RESERVED) return;
    if (blocking) this.#pasid1024Armed.delete(dev.name);
    else if (this.#pasid1024Armed.has(dev.name)) {
      this.#pasid1024Armed.delete(dev.name);
      fail('ENOMEM', 'mock PASID 1024 fake error');
    } else this.#pasid1024Armed.add(dev.name);
  }
}
