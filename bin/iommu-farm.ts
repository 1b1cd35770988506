#!/usr/bin/env -S npx tsx
/**
 * The iommu-farm CLI. `iommu-farm fuzz` runs a fuzzing campaign (bin/fuzz-command.ts);
 * `iommu-farm props` runs the property suites across the vendor matrix:
 *
 *   iommu-farm props [--vendor v]... [--property p]... [--runs n] [--seed s] [--twins]
 *                    [--max-commands n] [--fixture f] [--out dir] [--replay path]
 *
 * A failure prints its seed, fast-check path and shrunk script, and writes a standalone
 * reproduction to <out>/<property>-<vendor>-<seed>.ts (run it with `npx tsx`). `--replay` takes
 * such a file (or a fast-check path, with --seed, --property and --vendor) and replays that case.
 * Same seed, same result.
 */
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { FAULT_NAMES, type FaultName } from '../actors/runtime/faults.ts';
import { availableVendors, VENDORS, type VendorName } from '../index.ts';
import {
  type CellResult,
  Coverage,
  checkProperty,
  exemptPaths,
  FIXTURES,
  type Fixture,
  failureOf,
  formatCoverage,
  INVARIANT_NAMES,
  INVARIANTS,
  type InvariantName,
  matrixCells,
  profileOf,
  readReproMeta,
  replay,
  runMatrix,
  writeRepro,
} from '../props/index.ts';

const USAGE = `usage: iommu-farm props [options]
  --vendor <v>        vendor to run (repeatable; default: every available one: ${availableVendors().join(', ')})
  --property <p>      property to run (repeatable; default: all: ${INVARIANT_NAMES.join(', ')})
  --runs <n>          runs per property and vendor (default 100)
  --seed <s>          fast-check seed (default 1); the same seed gives the same result
  --twins             also run each property's broken twins (they must be caught)
  --fault <f>         turn a broken-twin switch on in every run (repeatable): ${FAULT_NAMES.join(', ')}
  --max-commands <n>  longest command sequence (default 40)
  --fail-nth <rate>   fail the n-th injection point (random n) on this share of calls
  --fixture <f>       what runs start from: ${FIXTURES.join(', ')} (default mapped)
  --time-limit <s>    stop each cell (and its shrinking) after this many seconds
  --coverage          also print, per vendor, each command's ok/fail/noop counts and how often
                      each path of interest (PASID DMA, explicit/nest-parent/nested HWPT DMA,
                      cross-IOAS replace, unwinds, access unmaps, every invalidation opcode,
                      DMA racing an invalidation, dirty tracking) was reached
  --out <dir>         where reproductions go (default .repro)
  --replay <path>     replay a reproduction file, or a fast-check path (with --seed, --property,
                      --vendor and the printed --replay-path)`;

function fail(message: string): never {
  console.error(`iommu-farm: ${message}\n${USAGE}`);
  process.exit(2);
}

/** A one-line progress bar on stderr (only on a terminal). */
function progress(total: number) {
  let done = 0;
  let label = '';
  const tty = process.stderr.isTTY;
  const draw = () => {
    if (!tty) return;
    const width = 30;
    const filled = Math.min(width, Math.round((done / Math.max(1, total)) * width));
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${label}`.padEnd(100),
    );
  };
  return {
    tick(l: string) {
      done++;
      label = l;
      if (done % 5 === 0 || done === total) draw();
    },
    clear() {
      if (tty) process.stderr.write(`\r${' '.repeat(100)}\r`);
    },
  };
}

function table(results: readonly CellResult[]): string {
  const rows = results.map((r) => {
    const secs = r.report.timeMs / 1000;
    const steps = r.report.counterexample ? ` (${r.report.counterexample.commands.length} steps)` : '';
    const verdict = r.fault
      ? r.verdict === 'pass'
        ? `caught${steps}`
        : 'NOT CAUGHT'
      : r.verdict === 'pass'
        ? 'holds'
        : `BROKEN${steps}`;
    return [
      r.property,
      r.vendor,
      r.fault ?? '',
      String(r.report.runs),
      `${secs.toFixed(1)}s`,
      (r.report.runs / secs).toFixed(1),
      verdict,
    ];
  });
  const head = ['property', 'vendor', 'broken twin', 'runs', 'time', 'runs/s', 'verdict'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function report(r: CellResult, out: string, extra: readonly FaultName[]): Promise<void> {
  const failed = r.report.counterexample && r.report.failed;
  if (!failed) return;
  const ce = r.report.counterexample!;
  const f = failureOf(r.report);
  const what = r.fault ? `broken twin ${r.fault} caught` : 'FAILED';
  console.log(`\n${r.property} on ${r.vendor}: ${what}`);
  console.log(`  ${f ? f.message : String((r.report.error as Error)?.stack ?? r.report.error)}`);
  console.log(
    `  seed ${r.report.seed}, path ${JSON.stringify(r.report.path ?? '')}, replayPath ${JSON.stringify(r.report.replayPath ?? '')}`,
  );
  console.log('  shrunk script:');
  for (const c of ce.commands) console.log(`    ${c.toString()}`);
  if (r.fault) return;
  const faults = [...extra];
  const rep = await replay(ce, { invariants: [INVARIANTS[r.property]], faults });
  const meta = {
    property: r.property,
    vendor: r.vendor,
    // The cell's own seed (see cellSeed): the one fast-check ran this case with.
    seed: r.report.seed,
    path: r.report.path,
    replayPath: r.report.replayPath,
    faults,
  };
  const file = await writeRepro(out, meta, ce, rep);
  console.log(`  reproduction: npx tsx ${file}`);
}

async function replayCase(
  target: string,
  opts: {
    seed?: number;
    property?: InvariantName;
    vendor?: VendorName;
    faults: FaultName[];
    replayPath?: string;
  },
) {
  let { seed, property, vendor, replayPath } = opts;
  let path = target;
  let faults = opts.faults;
  if (existsSync(target)) {
    const meta = readReproMeta(readFileSync(target, 'utf8'));
    if (!meta) fail(`${target} has no @iommu-farm-replay header`);
    ({ seed, property } = meta);
    vendor = meta.vendor as VendorName;
    path = meta.path ?? '';
    replayPath = meta.replayPath;
    faults = [...meta.faults];
  }
  if (seed === undefined || property === undefined || vendor === undefined) {
    fail('--replay of a fast-check path needs --seed, one --property and one --vendor');
  }
  const r = await checkProperty({
    invariants: [INVARIANTS[property]],
    vendors: [vendor],
    faults,
    seed,
    path,
    ...(replayPath === undefined ? {} : { replayPath }),
  });
  const f = failureOf(r);
  console.log(
    `${property} on ${vendor}, seed ${seed}, path ${JSON.stringify(path)}: ${r.failed ? 'fails' : 'holds'}`,
  );
  if (f) console.log(`  ${f.message}`);
  for (const c of r.counterexample?.commands ?? []) console.log(`    ${c.toString()}`);
  process.exitCode = r.failed ? 1 : 0;
}

async function props(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      vendor: { type: 'string', multiple: true },
      property: { type: 'string', multiple: true },
      runs: { type: 'string' },
      seed: { type: 'string' },
      twins: { type: 'boolean' },
      fault: { type: 'string', multiple: true },
      'max-commands': { type: 'string' },
      fixture: { type: 'string' },
      'time-limit': { type: 'string' },
      coverage: { type: 'boolean' },
      'fail-nth': { type: 'string' },
      out: { type: 'string' },
      replay: { type: 'string' },
      'replay-path': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const num = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) fail(`--${name} needs a non-negative integer, got ${v}`);
    return n;
  };
  const vendors = (values.vendor ?? availableVendors()) as VendorName[];
  for (const v of vendors) if (!VENDORS.includes(v)) fail(`unknown vendor ${v}`);
  const properties = (values.property ?? INVARIANT_NAMES) as InvariantName[];
  for (const p of properties) if (!INVARIANT_NAMES.includes(p)) fail(`unknown property ${p}`);
  const faults = (values.fault ?? []) as FaultName[];
  for (const f of faults) if (!FAULT_NAMES.includes(f)) fail(`unknown fault ${f}`);
  const fixture = values.fixture as Fixture | undefined;
  if (fixture !== undefined && !FIXTURES.includes(fixture)) fail(`unknown fixture ${fixture}`);
  const seed = num(values.seed, 'seed') ?? 1;
  if (values.replay) {
    await replayCase(values.replay, {
      seed: num(values.seed, 'seed'),
      property: properties.length === 1 ? properties[0] : undefined,
      vendor: vendors.length === 1 ? vendors[0] : undefined,
      faults,
      ...(values['replay-path'] === undefined ? {} : { replayPath: values['replay-path'] }),
    });
    return;
  }
  const numRuns = num(values.runs, 'runs') ?? 100;
  const out = values.out ?? '.repro';
  const cells = matrixCells({ properties, vendors, twins: values.twins ?? false });
  const bar = progress(cells.length * numRuns);
  console.log(
    `iommu-farm props: ${properties.length} properties × ${vendors.join(', ')}, ${numRuns} runs each, seed ${seed}`,
  );
  const maxCommands = num(values['max-commands'], 'max-commands');
  const limit = num(values['time-limit'], 'time-limit');
  const coverage = values.coverage ? new Coverage() : undefined;
  const started = performance.now();
  const failNthRate = values['fail-nth'] === undefined ? undefined : Number(values['fail-nth']);
  if (failNthRate !== undefined && !(failNthRate > 0 && failNthRate <= 1))
    fail(`--fail-nth needs a share of calls in (0, 1], got ${values['fail-nth']}`);
  const results = await runMatrix({
    properties,
    vendors,
    numRuns,
    seed,
    twins: values.twins ?? false,
    faults,
    ...(maxCommands === undefined ? {} : { maxCommands }),
    ...(fixture === undefined ? {} : { fixture }),
    ...(limit === undefined ? {} : { timeLimitMs: limit * 1000 }),
    ...(coverage === undefined ? {} : { coverage }),
    ...(failNthRate === undefined ? {} : { failNth: { rate: failNthRate } }),
    onRun: (cell) => bar.tick(`${cell.property} × ${cell.vendor}${cell.fault ? ` (${cell.fault})` : ''}`),
    onCell: (r) => {
      if (process.stderr.isTTY) return;
      const what = `${r.property} × ${r.vendor}${r.fault ? ` (${r.fault})` : ''}`;
      const steps = r.report.counterexample
        ? `, shrunk to ${r.report.counterexample.commands.length} steps`
        : '';
      const verdict = r.fault
        ? r.verdict === 'pass'
          ? 'caught'
          : 'NOT caught'
        : r.verdict === 'pass'
          ? 'holds'
          : 'BROKEN';
      console.error(
        `${what}: ${verdict} after ${r.report.runs} runs${steps}, ${(r.report.timeMs / 1000).toFixed(1)}s`,
      );
    },
  });
  bar.clear();
  if (faults.length > 0) console.log(`(with ${faults.join(', ')} on)`);
  console.log(`\n${table(results)}`);
  const secs = (performance.now() - started) / 1000;
  const runs = results.reduce((n, r) => n + r.report.runs, 0);
  console.log(`\n${runs} runs in ${secs.toFixed(1)}s (${(runs / secs).toFixed(1)} runs/s)`);
  if (coverage) {
    console.log(`\n${formatCoverage(coverage, vendors)}`);
    for (const v of vendors) {
      const gaps = coverage.missing(v, exemptPaths(v, profileOf(v).nested !== undefined));
      if (gaps.length > 0) console.log(`${v}: never reached ${gaps.join(', ')}`);
    }
  }
  for (const r of results) await report(r, out, faults);
  process.exitCode = results.every((r) => r.verdict === 'pass') ? 0 : 1;
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'props') await props(rest);
else if (command === 'chart') await (await import('./chart-command.ts')).chartCommand(rest);
else if (command === 'run') await (await import('./run-command.ts')).runCommand(rest);
else if (command === 'replay') await (await import('./replay-command.ts')).replayCommand(rest);
else if (command === 'fuzz') await (await import('./fuzz-command.ts')).fuzzCommand(rest);
else if (command === undefined || command === '--help' || command === '-h') console.log(USAGE);
else fail(`unknown command ${command}`);
