/**
 * Child of the mutant runner: runs the default property campaign (every property, default runs,
 * seed and sizes) for the given vendors in the working tree it is started in, and writes what
 * broke as JSON. Run as `tsx test/mutants/campaign.ts <out.json> <vendor>...`.
 */
import { writeFileSync } from 'node:fs';
import { failureOf, INVARIANT_NAMES, runMatrix } from '../../props/index.ts';
import type { VendorName } from '../../vendors/driver.ts';

export interface CampaignCell {
  readonly property: string;
  readonly vendor: string;
  readonly failed: boolean;
  /** violation: an invariant broke; exception: the run threw something else. */
  readonly kind: 'violation' | 'exception' | undefined;
  readonly message: string | undefined;
  readonly shrunkLength: number | undefined;
  readonly runs: number;
  readonly timeMs: number;
}

const [out, ...vendors] = process.argv.slice(2);
if (!out || vendors.length === 0) throw new Error('usage: campaign.ts <out.json> <vendor>...');
const results = await runMatrix({
  properties: INVARIANT_NAMES,
  vendors: vendors as VendorName[],
  numRuns: 100,
  seed: 1,
});
const cells: CampaignCell[] = results.map((r) => {
  const v = failureOf(r.report);
  const err = r.report.error;
  const message = v ? v.message : err === undefined || err === null ? undefined : String(err);
  return {
    property: r.property,
    vendor: r.vendor,
    failed: r.report.failed,
    kind: r.report.failed ? (v ? 'violation' : 'exception') : undefined,
    message: message?.split('\n')[0]?.slice(0, 300),
    shrunkLength: r.report.counterexample?.commands.length,
    runs: r.report.runs,
    timeMs: Math.round(r.report.timeMs),
  };
});
writeFileSync(out, JSON.stringify(cells, null, 2));
