/** Committed ratio baselines and the regression check against them. */
import { type BenchRow, type BenchSuite, type RunOptions, rowKey, runSuite } from './harness.ts';

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
    if (row.baseline) continue;
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
 * Measures the suites holding regressed rows again, up to twice, and keeps each row's best
 * ratio: load on a shared machine only ever makes a case look slower.
 */
export async function remeasureRegressed(
  verdict: Verdict,
  suites: readonly BenchSuite[],
  opts: RunOptions,
): Promise<BenchRow[]> {
  const best = new Map(verdict.rows.map((r) => [rowKey(r), r]));
  const again = new Set(verdict.regressed.map((r) => r.suite));
  for (let attempt = 0; attempt < 2 && again.size > 0; attempt++) {
    for (const suite of suites) {
      if (!again.has(suite.name)) continue;
      console.log(`re-measuring ${suite.name} (attempt ${attempt + 2})`);
      for (const row of await runSuite(suite, opts)) {
        const prev = best.get(rowKey(row));
        if (!prev || row.ratio < prev.ratio) best.set(rowKey(row), row);
      }
    }
  }
  return [...best.values()];
}
