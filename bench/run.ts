/**
 * `npm run bench [-- options] [suite…]`: runs the benchmarks (all by default) and prints one
 * ratio table per suite.
 *
 *   --quick             short runs and smaller sizes (what CI checks)
 *   --json <file>       also write the rows as JSON
 *   --check [file]      compare each ratio with the baseline (default bench/baseline.json) and
 *                       exit 1 when one regressed by more than --tolerance (default 25%)
 *   --update-baseline   write the measured ratios as the new baseline (the median of --repeat runs)
 *   --repeat <n>        measure every suite n times (default 1; 3 with --update-baseline)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compareWithBaseline, type RatioBaseline, remeasureRegressed } from './baseline.ts';
import { cmdq } from './cmdq.bench.ts';
import { dmaValidate } from './dma-validate.bench.ts';
import { type BenchRow, type BenchSuite, medianRows, printRows, rowKey, runSuite } from './harness.ts';
import { ioasMap } from './ioas-map.bench.ts';
import { ioctlNoop } from './ioctl-noop.bench.ts';
import { translate } from './translate.bench.ts';

const SUITES: readonly BenchSuite[] = [ioctlNoop, ioasMap, translate, cmdq, dmaValidate];
const DEFAULT_BASELINE = join(dirname(fileURLToPath(import.meta.url)), 'baseline.json');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    check: { type: 'boolean', default: false },
    baseline: { type: 'string', default: DEFAULT_BASELINE },
    tolerance: { type: 'string', default: '0.25' },
    'update-baseline': { type: 'boolean', default: false },
    repeat: { type: 'string' },
  },
});
const unknown = positionals.filter((p) => !SUITES.some((s) => s.name === p));
if (unknown.length > 0) {
  console.error(`bench: unknown suite ${unknown.join(', ')} (have: ${SUITES.map((s) => s.name).join(', ')})`);
  process.exit(2);
}
const tolerance = Number(values.tolerance);
if (!(tolerance > 0)) {
  console.error('bench: --tolerance takes a positive fraction, e.g. 0.25');
  process.exit(2);
}

const repeat = Number(values.repeat ?? (values['update-baseline'] ? 3 : 1));
if (!Number.isSafeInteger(repeat) || repeat < 1) {
  console.error('bench: --repeat takes a positive integer');
  process.exit(2);
}

const opts = { quick: values.quick };
const chosen = SUITES.filter((s) => positionals.length === 0 || positionals.includes(s.name));
const rows: BenchRow[] = [];
for (const suite of chosen) {
  const runs: BenchRow[][] = [];
  for (let i = 0; i < repeat; i++) runs.push(await runSuite(suite, opts));
  const measured = medianRows(runs);
  printRows(suite.title, measured, suite.summarize?.(measured));
  rows.push(...measured);
}
if (values.json) writeFileSync(values.json, `${JSON.stringify(rows, null, 2)}\n`);

if (values['update-baseline']) {
  const ratios: Record<string, number> = {};
  for (const r of rows) if (!r.baseline && r.gated) ratios[rowKey(r)] = Number(r.ratio.toFixed(3));
  const file: RatioBaseline = { mode: values.quick ? 'quick' : 'full', ratios };
  writeFileSync(values.baseline, `${JSON.stringify(file, null, 2)}\n`);
  console.log(`\nwrote ${Object.keys(ratios).length} ratios to ${values.baseline}`);
}

if (values.check) {
  if (!existsSync(values.baseline)) {
    console.error(`bench: no baseline at ${values.baseline} (make one with --update-baseline)`);
    process.exit(2);
  }
  const baseline = JSON.parse(readFileSync(values.baseline, 'utf8')) as RatioBaseline;
  let verdict = compareWithBaseline(rows, baseline, tolerance);
  // Noise passes on a second look; a real regression does not.
  if (verdict.regressed.length > 0) {
    const again = remeasureRegressed(verdict, opts);
    verdict = compareWithBaseline(again, baseline, tolerance);
  }
  for (const line of verdict.lines) console.log(line);
  if (verdict.regressed.length > 0) process.exit(1);
}
