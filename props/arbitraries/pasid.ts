import fc from 'fast-check';
import { IOMMU_TEST_PASID_RESERVED } from '../../actors/iommufd/uapi-selftest.ts';

export interface PasidConstraints {
  /** PASID width of the devices (PCIe allows up to 20). @defaultValue 20 */
  readonly widthBits?: number;
}

/**
 * PASIDs: small ones, the last valid and first invalid for the width, and the mock's reserved
 * PASID 1024 (its fault-injection quirk). Shrinks towards 1.
 */
export function pasidArb(constraints: PasidConstraints = {}): fc.Arbitrary<number> {
  const { widthBits = 20 } = constraints;
  if (widthBits < 1 || widthBits > 20) throw new Error('pasidArb widthBits should be within [1, 20]');
  const max = 2 ** widthBits;
  return fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 1, max: Math.min(15, max - 1) }) },
    { weight: 2, arbitrary: fc.constantFrom(max - 1, max, IOMMU_TEST_PASID_RESERVED) },
  );
}
