import { expect, test } from 'vitest';
import { availableVendors } from '../../index.ts';
import {
  Coverage,
  checkProperty,
  exemptPaths,
  formatCoverage,
  INVARIANTS,
  profileOf,
} from '../../props/index.ts';
import { SEED } from './seed.ts';

/**
 * A reduced campaign (one cheap property, a few dozen runs per vendor) must still reach every
 * path of interest and make each driver issue every invalidation it can: a generator change
 * that starves one of them shows here, not as a silently narrower campaign.
 */
const RUNS = Number(process.env.PROPS_COVERAGE_RUNS ?? 100);

for (const vendor of availableVendors()) {
  test(`the campaign reaches every path on ${vendor} (seed ${SEED})`, { timeout: 180_000 }, async () => {
    const coverage = new Coverage();
    const r = await checkProperty({
      invariants: [INVARIANTS.isolation],
      vendors: [vendor],
      numRuns: RUNS,
      seed: SEED,
      coverage,
    });
    expect(r.failed).toBe(false);
    expect(coverage.runs).toBe(RUNS);
    const missing = coverage.missing(vendor, exemptPaths(vendor, profileOf(vendor).nested !== undefined));
    expect(missing, formatCoverage(coverage, [vendor])).toEqual([]);
  });
}
