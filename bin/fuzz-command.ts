/**
 * `iommu-farm fuzz`: a syzkaller-style campaign over every ioctl of the farm (see props/fuzz/).
 *
 *   iommu-farm fuzz --vendor v --calls n --seed s [--out dir] [--farm-seed f] [--fault f]...
 *                   [--epoch n] [--shrink-time s] [--max-findings n] [--no-missing]
 *
 * Prints calls/s, per-call success/failure counts and each distinct finding with its shrunk
 * script, which is also written to <out>/fuzz-<vendor>-<kind>-<seed>-<n>.ts (run it with tsx).
 */
import { parseArgs } from 'node:util';
import { FAULT_NAMES, type FaultName } from '../actors/runtime/faults.ts';
import { availableVendors, VENDORS, type VendorName } from '../index.ts';
import {
  apiOf,
  type FuzzOptions,
  type FuzzReport,
  runCampaign,
  runWatched,
  writeFuzzRepro,
} from '../props/index.ts';

export const FUZZ_USAGE = `usage: iommu-farm fuzz [options]
  --vendor <v>        vendor (repeatable; default every available one: ${availableVendors().join(', ')})
  --calls <n>         calls per vendor (default 2000)
  --seed <s>          the fuzzer's seed (default 1); with --farm-seed, the same run again
  --farm-seed <s>     the farm's seed (default 1)
  --fault <f>         turn a fault-injection switch on (repeatable): ${FAULT_NAMES.join(', ')}
  --epoch <n>         calls per fresh farm (default 100)
  --max-findings <n>  stop after this many distinct findings per vendor (default 5)
  --shrink-time <s>   seconds to shrink each finding (default 60)
  --no-missing        do not report DMAs that fault at a mapped IOVA
  --watchdog <s>      run in a worker thread; a call blocking it this many seconds is a hang
                      (typed calls then also try size 2^32-1)
  --out <dir>         where reproductions go (default .repro)`;

function usage(message: string): never {
  console.error(`iommu-farm fuzz: ${message}\n${FUZZ_USAGE}`);
  process.exit(2);
}

export async function fuzzCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      vendor: { type: 'string', multiple: true },
      calls: { type: 'string' },
      seed: { type: 'string' },
      'farm-seed': { type: 'string' },
      fault: { type: 'string', multiple: true },
      epoch: { type: 'string' },
      'max-findings': { type: 'string' },
      'shrink-time': { type: 'string' },
      'no-missing': { type: 'boolean' },
      watchdog: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(FUZZ_USAGE);
    return;
  }
  const num = (v: string | undefined, name: string, dflt: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) usage(`--${name} needs a non-negative integer, got ${v}`);
    return n;
  };
  const vendors = (values.vendor ?? availableVendors()) as VendorName[];
  for (const v of vendors) if (!VENDORS.includes(v)) usage(`unknown vendor ${v}`);
  const faults = (values.fault ?? []) as FaultName[];
  for (const f of faults) if (!FAULT_NAMES.includes(f)) usage(`unknown fault ${f}`);
  const seed = num(values.seed, 'seed', 1);
  const out = values.out ?? '.repro';
  let found = 0;
  for (const vendor of vendors) {
    const watchdog = num(values.watchdog, 'watchdog', 0);
    const run = watchdog > 0 ? (o: FuzzOptions) => runWatched(o, watchdog * 1000) : runCampaign;
    const report = await run({
      vendor,
      calls: num(values.calls, 'calls', 2000),
      seed,
      farmSeed: num(values['farm-seed'], 'farm-seed', 1),
      faults,
      epochCalls: num(values.epoch, 'epoch', 100),
      maxFindings: num(values['max-findings'], 'max-findings', 5),
      shrinkTimeLimitMs: num(values['shrink-time'], 'shrink-time', 60) * 1000,
      missing: !values['no-missing'],
    });
    printReport(report, faults);
    let n = 0;
    for (const f of report.findings) {
      const calls = f.shrunk?.calls ?? f.calls;
      const finding = f.shrunk?.finding ?? f.finding;
      const path = await writeFuzzRepro(out, f.session, calls, finding, seed, n++);
      console.log(`\n  ${finding.kind} (${f.known ?? 'NEW'}): ${finding.message}`);
      console.log(`    after ${finding.label}; shrunk ${f.calls.length} → ${calls.length} calls; ${path}`);
      for (const c of calls) console.log(`      ${apiOf(c)}`);
    }
    found += report.findings.length;
  }
  process.exitCode = found > 0 ? 1 : 0;
}

function printReport(r: FuzzReport, faults: readonly FaultName[]): void {
  const perSec = r.calls / (r.ms / 1000);
  console.log(
    `\niommu-farm fuzz: ${r.vendor}, seed ${r.seed}${faults.length ? `, faults ${faults.join(',')}` : ''}: ${r.calls} calls in ${(r.ms / 1000).toFixed(1)} s (${perSec.toFixed(0)} calls/s), ${r.findings.length} finding(s) shrunk in ${(r.shrinkMs / 1000).toFixed(1)} s`,
  );
  const rows = [...r.stats].sort(([a], [b]) => a.localeCompare(b));
  const w = Math.max(...rows.map(([k]) => k.length), 4);
  console.log(`  ${'call'.padEnd(w)}      ok    fail  top errnos`);
  for (const [k, s] of rows) {
    const errnos = [...s.errnos]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([e, n]) => `${e}:${n}`)
      .join(' ');
    console.log(`  ${k.padEnd(w)} ${String(s.ok).padStart(7)} ${String(s.fail).padStart(7)}  ${errnos}`);
  }
}
