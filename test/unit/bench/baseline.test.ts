import { describe, expect, test } from 'vitest';
import { compareWithBaseline } from '../../../bench/baseline.ts';
import type { BenchRow } from '../../../bench/harness.ts';
import { medianRows } from '../../../bench/harness.ts';

const row = (name: string, ratio: number, extra: Partial<BenchRow> = {}): BenchRow => ({
  suite: 's',
  case: name,
  nsPerOp: ratio * 10,
  opsPerSec: 1e8 / ratio,
  ratio,
  rme: 1,
  baseline: false,
  gated: true,
  ...extra,
});

describe('bench ratio check', () => {
  const baseline = { mode: 'quick' as const, ratios: { 's/a': 10, 's/b': 10, 's/c': 10 } };

  test('a ratio more than the tolerance above its baseline regresses; within it, or faster, passes', () => {
    const v = compareWithBaseline([row('a', 12.4), row('b', 12.6), row('c', 5)], baseline, 0.25);
    expect(v.regressed.map((r) => r.case)).toEqual(['b']);
    expect(v.lines.join('\n')).toMatch(/REGRESSED s\/b: 12\.60× \(baseline 10\.00×, \+26%\)/);
  });

  test('baseline rows, ungated rows and rows with no baseline are never regressions', () => {
    const v = compareWithBaseline(
      [row('base', 1, { baseline: true }), row('a', 99, { gated: false }), row('new', 99)],
      baseline,
      0.25,
    );
    expect(v.regressed).toEqual([]);
    expect(v.lines.join('\n')).toMatch(/new\s+s\/new: 99\.00× \(no baseline\)/);
  });

  test('medianRows keeps, row by row, the median of several runs', () => {
    const runs = [[row('a', 3)], [row('a', 1)], [row('a', 2)]];
    expect(medianRows(runs).map((r) => r.ratio)).toEqual([2]);
  });
});
