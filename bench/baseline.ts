/** Committed ratio baselines and the regression check against them. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, type RunOptions, rowKey } from './harness.ts';

export interface RatioBaseline {
  /** The mode the ratios were measured in; a check compares like with like. */
  readonly mode: 'quick' | 'full';
  readonly ratios: Readonly<Record<string, number>>;
}

export interface Verdict {
  readonly rows: readonly BenchRow[];
  readonly regressed: readonly BenchRow[];
  readonly lines: readonly string[];
}

/** A row regressed when its cost ratio grew by more than `tolerance` over the baseline's. */
export function compareWithBaseline(
  rows: readonly BenchRow[],
  baseline: RatioBaseline,
  tolerance: number,
): Verdict {
  const regressed: BenchRow[] = [];
  const lines = [
    '',
    `ratio check against the ${baseline.mode} baseline (tolerance ${(tolerance * 100).toFixed(0)}%):`,
  ];
  for (const row of rows) {
    if (row.baseline || !row.gated) continue;
    const was = baseline.ratios[rowKey(row)];
    if (was === undefined) {
      lines.push(`  new       ${rowKey(row)}: ${row.ratio.toFixed(2)}× (no baseline)`);
      continue;
    }
    const change = row.ratio / was - 1;
    const bad = change > tolerance;
    if (bad) regressed.push(row);
    lines.push(
      `  ${bad ? 'REGRESSED' : 'ok       '} ${rowKey(row)}: ${row.ratio.toFixed(2)}× (baseline ${was.toFixed(2)}×, ${change >= 0 ? '+' : ''}${(change * 100).toFixed(0)}%)`,
    );
  }
  lines.push(`${regressed.length} regressed`);
  return { rows, regressed, lines };
}

/**
 * Measures the suites holding regressed rows again, each time in a fresh process (a process's
 * JIT and heap layout shift every ratio in it alike), and keeps each row's best ratio: load on
 * a shared machine only ever makes a case look slower.
 */
export function remeasureRegressed(verdict: Verdict, opts: RunOptions, attempts = 2): BenchRow[] {
  const best = new Map(verdict.rows.map((r) => [rowKey(r), r]));
  const suites = [...new Set(verdict.regressed.map((r) => r.suite))];
  const dir = mkdtempSync(join(tmpdir(), 'iommu-farm-bench-'));
  const script = join(dirname(fileURLToPath(import.meta.url)), 'run.ts');
  for (let attempt = 0; attempt < attempts; attempt++) {
    const out = join(dir, `attempt-${attempt}.json`);
    console.log(`re-measuring ${suites.join(', ')} in a fresh process (attempt ${attempt + 2})`);
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', script, ...(opts.quick ? ['--quick'] : []), '--json', out, ...suites],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    if (child.status !== 0) throw new Error(`bench: re-measuring ${suites.join(', ')} failed`);
    for (const row of JSON.parse(readFileSync(out, 'utf8')) as BenchRow[]) {
      const prev = best.get(rowKey(row));
      if (!prev || row.ratio < prev.ratio) best.set(rowKey(row), row);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return [...best.values()];
}
