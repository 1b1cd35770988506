import type { NestedDomain } from '../../vendors/driver.ts';
import type { Fault } from './fault.ts';
import type { HwptPaging } from './hwpt-paging.ts';
import { IommufdObject } from './object.ts';
import type { Viommu } from './viommu.ts';

/**
 * IOMMUFD_OBJ_HWPT_NESTED: a stage-1 domain owned by userspace on top of a nest-parent. Made
 * through a vIOMMU it references only the vIOMMU (which holds the parent).
 */
export class HwptNested extends IommufdObject {
  readonly type = 'HWPT_NESTED' as const;
  fault: Fault | undefined;

  constructor(
    readonly domain: NestedDomain,
    readonly parent: HwptPaging,
    readonly viommu: Viommu | undefined,
    readonly pasidCompat: boolean,
  ) {
    super();
    if (viommu) viommu.get();
    else parent.get();
  }

  destroy(): void {
    this.domain.free();
    this.fault?.put();
    if (this.viommu) this.viommu.put();
    else this.parent.put();
  }
}

export type Hwpt = HwptPaging | HwptNested;

export function isHwpt(obj: { type: string }): obj is Hwpt {
  return obj.type === 'HWPT_PAGING' || obj.type === 'HWPT_NESTED';
}
