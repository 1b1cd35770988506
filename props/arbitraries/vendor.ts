import fc from 'fast-check';
import type { VendorName } from '../../vendors/driver.ts';
import { availableVendors } from '../../vendors/registry.ts';

export interface VendorConstraints {
  /** @defaultValue availableVendors() at call time */
  readonly vendors?: readonly VendorName[];
}

/** A vendor among those this build simulates. */
export function vendorArb(constraints: VendorConstraints = {}): fc.Arbitrary<VendorName> {
  const vendors = constraints.vendors ?? availableVendors();
  if (vendors.length === 0) throw new Error('vendorArb: no vendor available');
  return fc.constantFrom(...vendors);
}
