/**
 * Benchmark harness over tinybench. Every suite measures its cases against a plain baseline in
 * the same process and reports the cost ratio (case ns/op ÷ baseline ns/op): absolute figures
 * move with the machine and its load, ratios much less.
 *
 * Wall time is fine here: benchmarks measure the simulator, not simulated time.
 */
import { Bench } from 'tinybench';

/** One measured operation. `fn` runs `batch` operations per call, so fast ones are not timer-bound. */
export interface BenchCase {
  readonly name: string;
  readonly fn: () => unknown;
  /** Operations per call of `fn` (default 1). */
  readonly batch?: number;
  /**
   * Operations per call learnt after the run (e.g. commands a queue consumed per ioctl);
   * overrides `batch`. Called once, after the case ran.
   */
  readonly opsPerCall?: () => number;
  /** A detail printed beside the row, not part of its stable name. */
  readonly note?: () => string;
}

export interface BenchSuite {
  readonly name: string;
  readonly title: string;
  /**
   * False for suites whose baseline is too small to give a ratio steady across processes
   * (a few ns): they are printed but kept out of the committed baseline and its check.
   */
  readonly gated?: boolean;
  /** Builds the farms and returns the baseline and the cases; `quick` may shrink sizes. */
  prepare(opts: { quick: boolean }): Promise<{ baseline: BenchCase; cases: BenchCase[] }>;
  /** Extra lines under the table (e.g. growth ratios), from the measured rows. */
  summarize?(rows: readonly BenchRow[]): string[];
}

export interface BenchRow {
  readonly suite: string;
  readonly case: string;
  readonly nsPerOp: number;
  readonly opsPerSec: number;
  /** ns/op ÷ the suite baseline's ns/op (1 for the baseline row). */
  readonly ratio: number;
  /** Relative margin of error of the latency mean, in percent. */
  readonly rme: number;
  readonly baseline: boolean;
  /** Whether the ratio check looks at this row (see `BenchSuite.gated`). */
  readonly gated: boolean;
  readonly note?: string;
}

export interface RunOptions {
  readonly quick: boolean;
}

/** Runs one suite and returns its rows, baseline first. */
export async function runSuite(suite: BenchSuite, opts: RunOptions): Promise<BenchRow[]> {
  const { baseline, cases } = await suite.prepare(opts);
  const bench = new Bench({
    name: suite.name,
    time: opts.quick ? 400 : 1500,
    warmupTime: opts.quick ? 150 : 300,
    throws: true,
  });
  // The calls each case made, warm-up included, for cases whose ops per call are learnt.
  const calls = new Map<string, number>();
  for (const c of [baseline, ...cases]) {
    const fn = c.fn;
    if (c.opsPerCall) {
      calls.set(c.name, 0);
      bench.add(c.name, () => {
        calls.set(c.name, (calls.get(c.name) ?? 0) + 1);
        return fn();
      });
    } else {
      bench.add(c.name, fn);
    }
  }
  await bench.run();
  const measured = [baseline, ...cases].map((c) => {
    const task = bench.getTask(c.name);
    const result = task?.result;
    if (result?.state !== 'completed') throw new Error(`bench ${suite.name}/${c.name} did not complete`);
    const ops = c.opsPerCall ? c.opsPerCall() : (c.batch ?? 1);
    const nsPerOp = (result.latency.p50 * 1e6) / Math.max(ops, Number.MIN_VALUE);
    return { c, nsPerOp, rme: result.latency.rme };
  });
  const base = measured[0]?.nsPerOp ?? 1;
  return measured.map(({ c, nsPerOp, rme }, i) => {
    const row: BenchRow = {
      suite: suite.name,
      case: c.name,
      nsPerOp,
      opsPerSec: 1e9 / nsPerOp,
      ratio: nsPerOp / base,
      rme,
      baseline: i === 0,
      gated: suite.gated ?? true,
      ...(c.note ? { note: c.note() } : {}),
    };
    return row;
  });
}

/** Prints one suite's rows as `case  ops/s  ns/op  ×baseline`. */
export function printRows(title: string, rows: readonly BenchRow[], extra: readonly string[] = []): void {
  console.log(`\n${title}`);
  console.log(
    `  ${'case'.padEnd(46)} ${'ops/s'.padStart(13)} ${'ns/op'.padStart(10)} ${'× baseline'.padStart(11)} ${'±%'.padStart(6)}`,
  );
  for (const r of rows) {
    const ops = Math.round(r.opsPerSec).toLocaleString('en-US');
    const ns = r.nsPerOp < 10 ? r.nsPerOp.toFixed(1) : r.nsPerOp.toFixed(0);
    console.log(
      `  ${r.case.padEnd(46)} ${ops.padStart(13)} ${ns.padStart(10)} ${r.ratio.toFixed(1).padStart(11)} ${r.rme.toFixed(1).padStart(6)}${r.note ? `  ${r.note}` : ''}`,
    );
  }
  for (const line of extra) console.log(`  ${line}`);
}

/** A row's stable key in baseline files. */
export function rowKey(row: Pick<BenchRow, 'suite' | 'case'>): string {
  return `${row.suite}/${row.case}`;
}

/** Row by row, the run whose ratio is the median of several runs of one suite. */
export function medianRows(runs: readonly (readonly BenchRow[])[]): BenchRow[] {
  const first = runs[0] ?? [];
  return first.map((_, i) => {
    const sorted = runs.map((r) => r[i] as BenchRow).sort((a, b) => a.ratio - b.ratio);
    return sorted[Math.floor(sorted.length / 2)] as BenchRow;
  });
}
