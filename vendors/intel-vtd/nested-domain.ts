import { fail, IommufdError } from '../../actors/iommufd/errno.ts';
import {
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_HWPT_DATA_VTD_S1,
  IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
  IOMMU_VTD_INV_FLAGS_LEAF,
  IOMMU_VTD_S1_EAFE,
  IOMMU_VTD_S1_SRE,
  IOMMU_VTD_S1_WPE,
} from '../../actors/iommufd/uapi-iommufd.ts';
import { iommu_hwpt_vtd_s1, iommu_hwpt_vtd_s1_invalidate } from '../../actors/iommufd/uapi-structs-vendor.ts';
import type {
  DeviceRef,
  InvalidateResult,
  NestedDomain,
  PagingDomain,
  UserData,
  UserDataArray,
} from '../driver.ts';
import { copyDriverArrayEntry, copyDriverData } from '../user-data.ts';
import type { DeviceInfo } from './device-info.ts';
import { VtdDomain } from './domain-base.ts';
import type { VtdDriver } from './driver.ts';
import { PGTT_NESTED } from './entries.ts';
import { VtdPagingDomain } from './paging-domain.ts';
import type { PasidConfigSpec } from './pasid-setup.ts';
import { ecapEafs, ecapNest, ecapSrs } from './regs.ts';

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/**
 * A nested domain (IOMMU_HWPT_DATA_VTD_S1): a guest first-stage table at a GPA, stacked on a
 * nest-parent second-stage domain. It gets its own DID; its PASID entry is PGTT=3 with
 * FSPTPTR = the guest GPA and SSPTPTR = the parent's root. Attaching tags the parent too, so
 * a parent unmap flushes this DID and the whole device TLB.
 */
export class VtdNestedDomain extends VtdDomain implements NestedDomain {
  readonly kind = 'nested' as const;

  private constructor(
    driver: VtdDriver,
    readonly parent: VtdPagingDomain,
    readonly s1: { readonly flags: bigint; readonly pgtblAddr: bigint; readonly addrWidth: number },
  ) {
    super(driver);
  }

  /** `intel_iommu_domain_alloc_nested`, checks in the kernel's order. */
  static alloc(
    drv: VtdDriver,
    dev: DeviceRef,
    parent: PagingDomain,
    flags: number,
    data: UserData,
  ): VtdNestedDomain {
    if (!ecapNest(drv.hw.ecap) || flags & ~IOMMU_HWPT_ALLOC_PASID) fail('EOPNOTSUPP', 'nested flags');
    if (data.type !== IOMMU_HWPT_DATA_VTD_S1) fail('EOPNOTSUPP', `data type ${data.type}`);
    if (!(parent instanceof VtdPagingDomain) || !parent.nestParent)
      fail('EINVAL', 'parent is not a VT-d nest parent');
    const vtd = copyDriverData(data, IOMMU_HWPT_DATA_VTD_S1, iommu_hwpt_vtd_s1, '__reserved');
    drv.probe(dev);
    return new VtdNestedDomain(drv, parent, {
      flags: vtd.flags,
      pgtblAddr: vtd.pgtbl_addr,
      addrWidth: vtd.addr_width,
    });
  }

  get usePiotlb(): boolean {
    return true;
  }

  pasidSpec(did: number): PasidConfigSpec {
    return {
      pgtt: PGTT_NESTED,
      did,
      fsptptr: this.s1.pgtblAddr,
      ssptptr: this.parent.pt.root,
      ssade: this.parent.dirtyTracking,
      addrWidth: this.s1.addrWidth,
      sre: (this.s1.flags & BigInt(IOMMU_VTD_S1_SRE)) !== 0n,
      wpe: (this.s1.flags & BigInt(IOMMU_VTD_S1_WPE)) !== 0n,
      eafe: (this.s1.flags & BigInt(IOMMU_VTD_S1_EAFE)) !== 0n,
    };
  }

  /** `intel_nested_attach_dev` + `intel_pasid_setup_nested`'s configuration checks. */
  checkCompatible(info: DeviceInfo): void {
    this.driver.checkDomainCompatible(this.parent, info);
    const ecap = this.driver.hw.ecap;
    if (this.s1.addrWidth !== 48) fail('EINVAL', `stage-1 address width ${this.s1.addrWidth}`);
    if (this.s1.flags & BigInt(IOMMU_VTD_S1_SRE) && !ecapSrs(ecap)) fail('EINVAL', 'no supervisor requests');
    if (this.s1.flags & BigInt(IOMMU_VTD_S1_EAFE) && !ecapEafs(ecap))
      fail('EINVAL', 'no extended access flag');
  }

  protected override assignTags(did: number, pasid: number, info: DeviceInfo): void {
    super.assignTags(did, pasid, info);
    this.parent.tags.assignDomain(did, pasid, info, true);
    this.parent.s1Domains.add(this);
  }

  protected override unassignTags(did: number, pasid: number, info: DeviceInfo): void {
    super.unassignTags(did, pasid, info);
    this.parent.tags.unassignDomain(did, pasid, info, true);
    if (this.attachments.size === 0) this.parent.s1Domains.delete(this);
  }

  free(): void {
    this.parent.s1Domains.delete(this);
  }

  /** `intel_nested_cache_invalidate_user`: one flush per entry; stops at the first bad one. */
  async cacheInvalidateUser(array: UserDataArray): Promise<InvalidateResult> {
    let handled = 0;
    try {
      if (array.type !== IOMMU_HWPT_INVALIDATE_DATA_VTD_S1) fail('EINVAL', 'invalidation data type');
      for (; handled < array.entryNum; handled++) {
        const inv = copyDriverArrayEntry(
          array,
          IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
          iommu_hwpt_vtd_s1_invalidate,
          '__reserved',
          handled,
        );
        if (inv.flags & ~IOMMU_VTD_INV_FLAGS_LEAF || inv.__reserved)
          fail('EOPNOTSUPP', 'flags or __reserved');
        if (inv.addr & 0xfffn || (inv.npages === U64_MAX && inv.addr)) fail('EINVAL', 'addr or npages');
        const end = (inv.addr + ((inv.npages << 12n) & U64_MAX) - 1n) & U64_MAX;
        const drv = this.driver;
        const leaf = (inv.flags & IOMMU_VTD_INV_FLAGS_LEAF) !== 0;
        await drv.flusher.submit(this.tags.rangeDescs(drv.flusher, drv.hw.cap, inv.addr, end, leaf, true));
      }
    } catch (error) {
      if (!IommufdError.is(error)) throw error;
      return { handled, error };
    }
    return { handled };
  }
}
