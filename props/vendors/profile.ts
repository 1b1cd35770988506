import type { VendorName } from '../../vendors/driver.ts';
import { mockProfile } from './mock.profile.ts';

/**
 * What the property suites know of a vendor beyond the generic uAPI: how to build a nested HWPT
 * and invalidate its caches with the vendor's own payloads. A vendor without a profile still
 * runs every generic command; adding one here turns on the nested and invalidation commands.
 */
export interface VendorProfile {
  /** IOMMU_HWPT_ALLOC of a nested HWPT on a nest-parent HWPT_PAGING. */
  readonly nested?: {
    readonly dataType: number;
    readonly data: Readonly<Record<string, unknown>>;
    /** DMA through it reaches the parent's IOAS as mapped (an identity stage 1). */
    readonly translates: boolean;
  };
  /**
   * A replace may pass through a blocking configuration while DMA is in flight (the SMMUv3
   * driver updates an STE hitlessly only when one qword of used bits changes; otherwise V goes to
   * 0 first), so a DMA racing a replace may fault even where both domains map it.
   */
  readonly breakingReplace?: boolean;
  /** IOMMU_HWPT_INVALIDATE on such a nested HWPT: entry lists by kind (all, one, a bad one ...). */
  readonly invalidate?: {
    readonly dataType: number;
    readonly kinds: ReadonlyArray<ReadonlyArray<Readonly<Record<string, unknown>>>>;
  };
}

const PROFILES: Partial<Record<VendorName, VendorProfile>> = {
  mock: mockProfile,
  'arm-smmuv3': { breakingReplace: true },
};

/** The profile of a vendor (empty when the suites only know its generic uAPI). */
export function profileOf(vendor: VendorName): VendorProfile {
  return PROFILES[vendor] ?? {};
}
