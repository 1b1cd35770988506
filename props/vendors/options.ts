import fc from 'fast-check';
import type { VendorName } from '../../vendors/driver.ts';

/** Vendor options of one IOMMU, as `host.addIommu` takes them. */
export type IommuOptions = Readonly<Record<string, number | boolean | string>>;

/**
 * The defaults first (what fast-check shrinks to), then slow queues and links that keep an
 * invalidation in flight across a whole DMA (a DMA takes ≥ 240 ns, so 20-50 ns commands never
 * open a window), tiny IOTLBs that evict, and ATS switched off at the IOMMU.
 */
const cmdNs = fc.constantFrom(20, 150, 400, 1200);
const atcNs = fc.constantFrom(200, 40, 1500);
const tlbEntries = fc.constantFrom(4096, 16, 4);
const flag = (dflt: boolean) =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(dflt) }, { weight: 1, arbitrary: fc.constant(!dflt) });

const OPTIONS: Partial<Record<VendorName, fc.Arbitrary<IommuOptions>>> = {
  'intel-vtd': fc.record({
    descNs: fc.constantFrom(50, 150, 400, 1200),
    linkNs: fc.constantFrom(500, 40, 1500),
    iotlbEntries: tlbEntries,
    // Second-stage paging domains (nest parents, dirty tracking use them anyway).
    firstStage: flag(true),
  }),
  'arm-smmuv3': fc.record({
    cmdNs,
    atcLatencyNs: atcNs,
    iotlbCapacity: tlbEntries,
    // 2^7 is the smallest queue the driver programs: a full queue makes it wait for space.
    cmdqLog2: fc.constantFrom(8, 7),
    ats: flag(true),
  }),
  'amd-vi': fc.record({
    cmdNs: fc.constantFrom(50, 150, 400, 1200),
    linkNs: fc.constantFrom(200, 40, 1500),
    iotlbEntries: tlbEntries,
    ats: flag(true),
    // v2 (guest) page tables for paging domains: the GCR3 path.
    pgtable: fc.constantFrom('v1', 'v2'),
  }),
};

/** Options of an IOMMU of `vendor`, drawn per case (none for the mock: it has no queue or cache). */
export function vendorOptionsArb(vendor: VendorName): fc.Arbitrary<IommuOptions | undefined> {
  return OPTIONS[vendor] ?? fc.constant(undefined);
}
