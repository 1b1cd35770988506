/**
 * The property suites as a library: a small campaign over two vendors, and one broken twin (a
 * farm switch that skips the IOTLB invalidation on unmap) that the no-stale property must catch.
 * `iommu-farm props` prints the same table from the command line.
 *
 *   npm run example examples/04-props-campaign.ts
 */
import { brokenTwins, runMatrix } from 'iommu-farm/props';

const results = await runMatrix({
  properties: ['isolation', 'no-stale', 'group-ownership'],
  vendors: ['mock', 'intel-vtd'],
  numRuns: 10,
  seed: 4,
});
for (const r of results) {
  console.log(`${r.property.padEnd(16)} ${r.vendor.padEnd(10)} ${r.report.runs} runs  ${r.verdict}`);
}

const [twin] = brokenTwins('no-stale', 'intel-vtd');
if (twin === undefined) throw new Error('no broken twin for no-stale on intel-vtd');
const [caught] = await runMatrix({
  properties: ['no-stale'],
  vendors: ['intel-vtd'],
  numRuns: 10,
  seed: 4,
  faults: [twin],
});
if (caught === undefined) throw new Error('the campaign ran no cell');
const steps = caught.report.counterexample?.commands.length ?? 0;
console.log(`with ${twin} on: no-stale ${caught.report.failed ? `broke, shrunk to ${steps} steps` : 'held'}`);
