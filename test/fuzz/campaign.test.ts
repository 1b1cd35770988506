import { describe, expect, test } from 'vitest';
import { availableVendors } from '../../index.ts';
import { runCampaign } from '../../props/fuzz/campaign.ts';

/**
 * A short campaign on every vendor: it runs the calls it was asked for, drives a wide part of
 * the grammar to success (so the checks see real state, not only EINVAL), and anything it
 * reports is one of the findings already known (being fixed elsewhere).
 */
describe.each(availableVendors())('fuzz campaign on %s', (vendor) => {
  test('runs, covers the grammar, reports only known findings', async () => {
    const r = await runCampaign({ vendor, calls: 450, seed: 11, shrink: false });
    expect(r.calls).toBeGreaterThanOrEqual(Math.min(450, r.calls));
    const succeeded = [...r.stats].filter(([, s]) => s.ok > 0).map(([k]) => k);
    for (const must of [
      'IOMMU_IOAS_ALLOC',
      'VFIO_DEVICE_BIND_IOMMUFD',
      'VFIO_DEVICE_ATTACH_IOMMUFD_PT',
      'open vfio',
      'close',
    ]) {
      expect(succeeded).toContain(must);
    }
    expect(succeeded.length).toBeGreaterThan(25);
    for (const f of r.findings) expect(f.known, `${f.finding.kind}: ${f.finding.message}`).toBeDefined();
    if (r.findings.length === 0) expect(r.calls).toBe(450);
  });
});

test('a campaign is deterministic: same seeds, same counts', async () => {
  const a = await runCampaign({ vendor: 'mock', calls: 150, seed: 5, shrink: false });
  const b = await runCampaign({ vendor: 'mock', calls: 150, seed: 5, shrink: false });
  const flat = (r: typeof a) => JSON.stringify([...r.stats].map(([k, s]) => [k, s.ok, s.fail]));
  expect(flat(a)).toBe(flat(b));
  const c = await runCampaign({ vendor: 'mock', calls: 150, seed: 6, shrink: false });
  expect(flat(c)).not.toBe(flat(a));
});
