import { describe, expect, test } from 'vitest';
import type { FaultName } from '../../actors/runtime/faults.ts';
import type { VendorName } from '../../index.ts';
import { runCampaign } from '../../props/fuzz/campaign.ts';
import { renderFuzzRepro } from '../../props/fuzz/repro.ts';
import { replayCalls } from '../../props/fuzz/session.ts';

/**
 * Broken twins (farm.faults): with a switch on, the fuzzer reports the escape it causes, shrinks
 * it to a few calls, and the shrunk calls replay to the same finding with the switch on and to
 * none with it off (so the finding is the planted bug, not noise).
 */
const PLANTED: ReadonlyArray<[VendorName, FaultName, number]> = [
  ['intel-vtd', 'skipIotlbInvalidation', 3],
  ['arm-smmuv3', 'skipIotlbInvalidation', 3],
  ['mock', 'skipGroupOwnershipCheck', 1],
];

describe.each(PLANTED)('%s with %s', (vendor, fault, seed) => {
  test('is caught as an escape and shrunk to a short script', async () => {
    const r = await runCampaign({
      vendor,
      calls: 1500,
      seed,
      faults: [fault],
      maxFindings: 1,
      shrinkTimeLimitMs: 15000,
    });
    expect(r.findings).toHaveLength(1);
    const f = r.findings[0]!;
    expect(f.finding.kind).toBe('escape');
    const shrunk = f.shrunk!;
    expect(shrunk.calls.length).toBeLessThanOrEqual(15);
    expect(shrunk.calls.length).toBeLessThan(f.calls.length);
    const again = await replayCalls(f.session, shrunk.calls);
    expect(again.finding?.kind).toBe('escape');
    const healthy = await replayCalls({ ...f.session, faults: [] }, shrunk.calls);
    expect(healthy.finding).toBeUndefined();
    const script = await renderFuzzRepro(f.session, shrunk.calls, shrunk.finding, 'test/fuzz', seed);
    expect(script).toContain(`faults: ['${fault}']`);
    expect(script).toContain('await s.step(');
  }, 60_000);
});
