import fc from 'fast-check';
import { IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE } from '../../actors/iommufd/uapi-iommufd.ts';

export interface MapFlagsConstraints {
  /** Also produce flags the kernel rejects (no R/W bit: EINVAL; an unknown bit: EOPNOTSUPP). @defaultValue true */
  readonly invalid?: boolean;
}

/** IOMMU_IOAS_MAP/COPY protection flags (FIXED_IOVA is set by the command from its IOVA pick). */
export function mapFlagsArb(constraints: MapFlagsConstraints = {}): fc.Arbitrary<number> {
  const { invalid = true } = constraints;
  const R = IOMMU_IOAS_MAP_READABLE;
  const W = IOMMU_IOAS_MAP_WRITEABLE;
  const valid = fc.oneof(
    { weight: 6, arbitrary: fc.constant(R | W) },
    { weight: 2, arbitrary: fc.constantFrom(R, W) },
  );
  if (!invalid) return valid;
  return fc.oneof(
    { weight: 12, arbitrary: valid },
    { weight: 1, arbitrary: fc.constantFrom(0, R | W | (1 << 7)) },
  );
}
