import fc from 'fast-check';
import {
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
} from '../../actors/iommufd/uapi-iommufd.ts';

export interface HwptFlagsConstraints {
  /** Also produce an unknown flag (EOPNOTSUPP). @defaultValue true */
  readonly invalid?: boolean;
}

/** IOMMU_HWPT_ALLOC flags for a paging HWPT: none, PASID-capable, nest parent, dirty tracking. */
export function hwptFlagsArb(constraints: HwptFlagsConstraints = {}): fc.Arbitrary<number> {
  const { invalid = true } = constraints;
  const valid = fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 3, arbitrary: fc.constant(IOMMU_HWPT_ALLOC_PASID) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        IOMMU_HWPT_ALLOC_NEST_PARENT,
        IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID,
      ),
    },
    { weight: 1, arbitrary: fc.constant(IOMMU_HWPT_ALLOC_DIRTY_TRACKING) },
  );
  return invalid
    ? fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: fc.constant(1 << 9) })
    : valid;
}
