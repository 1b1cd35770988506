import { fc, test } from '@fast-check/vitest';
// Plain cases use vitest's `it`: test/setup.ts sets a global numRuns, which makes @fast-check/vitest's
// one-off `test()` repeat its body that many times.
import { describe, expect, it } from 'vitest';
import { DisjointIntervalTree } from '../../../actors/iommufd/area-tree.ts';
import { IntervalTree, type Span, U64_MAX } from '../../../actors/iommufd/interval-tree.ts';
import { contiguousCoverage, doubleSpanHoles } from '../../../actors/iommufd/span-iter.ts';

const addr = fc.oneof(
  fc.bigInt({ min: 0n, max: 40n }),
  fc.bigInt({ min: U64_MAX - 40n, max: U64_MAX }),
  fc.bigInt({ min: (1n << 32n) - 8n, max: (1n << 32n) + 8n }),
  fc.constantFrom(0n, (1n << 63n) - 1n, 1n << 63n, U64_MAX),
);
const atMostMax = (v: bigint): bigint => (v > U64_MAX ? U64_MAX : v);
const span = fc.tuple(addr, addr).map(([x, y]): [bigint, bigint] => (x <= y ? [x, y] : [y, x]));
const shortSpan = fc
  .tuple(addr, fc.bigInt({ min: 0n, max: 4n }))
  .map(([s, len]): [bigint, bigint] => [s, atMostMax(s + len)]);
const spans = fc.array(fc.oneof({ weight: 3, arbitrary: shortSpan }, { weight: 1, arbitrary: span }), {
  maxLength: 30,
});

/** Straight sweep over every interval sorted by start: the model the iterator must match. */
function naiveHoles(intervals: readonly (readonly [bigint, bigint])[], start: bigint, last: bigint): Span[] {
  const sorted = [...intervals].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Span[] = [];
  let cursor = start;
  for (const [s, l] of sorted) {
    if (l < cursor) continue;
    if (s > last || cursor > last) break;
    if (s > cursor) out.push({ start: cursor, last: s - 1n });
    cursor = l + 1n;
  }
  if (cursor <= last) out.push({ start: cursor, last });
  return out;
}

/** Inserts what fits into a disjoint tree, returning what went in. */
function fillDisjoint(
  tree: DisjointIntervalTree<number>,
  from: readonly [bigint, bigint][],
): [bigint, bigint][] {
  const kept: [bigint, bigint][] = [];
  for (const [s, l] of from) {
    if (kept.some(([ks, kl]) => ks <= l && kl >= s)) continue;
    tree.insert(s, l, kept.length);
    kept.push([s, l]);
  }
  return kept;
}

describe('doubleSpanHoles', () => {
  test.prop([spans, spans, span])(
    'finds what neither an overlapping nor a disjoint tree covers',
    (as, bs, q) => {
      const reserved = new IntervalTree<number>();
      for (const [i, [s, l]] of as.entries()) reserved.insert(s, l, i);
      const areas = new DisjointIntervalTree<number>();
      const kept = fillDisjoint(areas, bs);
      const [s, l] = q;
      expect([...doubleSpanHoles(reserved, areas, s, l)]).toEqual(naiveHoles([...as, ...kept], s, l));
      expect([...doubleSpanHoles(areas, reserved, s, l)]).toEqual(naiveHoles([...as, ...kept], s, l));
    },
  );

  test.prop([spans, spans, span])('works on two overlapping trees', (as, bs, [s, l]) => {
    const a = new IntervalTree<number>();
    const b = new IntervalTree<number>();
    for (const [i, [x, y]] of as.entries()) a.insert(x, y, i);
    for (const [i, [x, y]] of bs.entries()) b.insert(x, y, i);
    expect([...doubleSpanHoles(a, b, s, l)]).toEqual(naiveHoles([...as, ...bs], s, l));
  });

  it('spans the whole u64 space', () => {
    const a = new IntervalTree<null>();
    const b = new DisjointIntervalTree<null>();
    expect([...doubleSpanHoles(a, b, 0n, U64_MAX)]).toEqual([{ start: 0n, last: U64_MAX }]);
    a.insert(0n, 9n, null);
    b.insert(U64_MAX - 9n, U64_MAX, null);
    expect([...doubleSpanHoles(a, b, 0n, U64_MAX)]).toEqual([{ start: 10n, last: U64_MAX - 10n }]);
    b.insert(10n, U64_MAX - 10n, null);
    expect([...doubleSpanHoles(a, b, 0n, U64_MAX)]).toEqual([]);
    expect([...doubleSpanHoles(a, b, 1n, 0n)]).toEqual([]);
  });
});

describe('contiguousCoverage', () => {
  /** Runs of areas laid end to end, broken now and then by a small gap, at either end of the space. */
  const tiles = fc
    .record({
      base: fc.constantFrom(0n, U64_MAX - 63n),
      steps: fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 3n }), fc.constantFrom(0n, 0n, 0n, 1n, 2n)), {
        maxLength: 12,
      }),
    })
    .map(({ base, steps }) => {
      const out: [bigint, bigint][] = [];
      let at = base;
      for (const [len, gap] of steps) {
        if (at + len > U64_MAX) break;
        out.push([at, at + len]);
        at += len + 1n + gap;
      }
      return out;
    });
  const probe = fc.oneof(
    span,
    fc
      .tuple(fc.bigInt({ min: 0n, max: 63n }), fc.bigInt({ min: 0n, max: 63n }), fc.boolean())
      .map(([x, y, top]): [bigint, bigint] => {
        const [lo, hi] = x <= y ? [x, y] : [y, x];
        return top ? [U64_MAX - 63n + lo, U64_MAX - 63n + hi] : [lo, hi];
      }),
  );

  test.prop([fc.oneof(spans, tiles), probe])(
    'returns the areas tiling the range, or undefined at a gap',
    (bs, [s, l]) => {
      const tree = new DisjointIntervalTree<number>();
      const kept = fillDisjoint(tree, bs).sort((x, y) => (x[0] < y[0] ? -1 : 1));
      let want: [bigint, bigint][] | undefined;
      let i = kept.findIndex(([ks, kl]) => ks <= s && s <= kl);
      if (i >= 0) {
        want = [kept[i]!];
        while (want.at(-1)![1] < l) {
          const next = kept[++i];
          if (next === undefined || next[0] !== want.at(-1)![1] + 1n) {
            want = undefined;
            break;
          }
          want.push(next);
        }
      }
      expect(contiguousCoverage(tree, s, l)?.map((n) => [n.start, n.last])).toEqual(want);
    },
  );

  it('accepts areas that overhang the range at both ends', () => {
    const tree = new DisjointIntervalTree<string>();
    tree.insert(0n, 0xfffn, 'a');
    tree.insert(0x1000n, 0x1fffn, 'b');
    tree.insert(0x2000n, U64_MAX, 'c');
    expect(contiguousCoverage(tree, 0x800n, 0x2800n)?.map((n) => n.value)).toEqual(['a', 'b', 'c']);
    expect(contiguousCoverage(tree, 0n, U64_MAX)?.map((n) => n.value)).toEqual(['a', 'b', 'c']);
    expect(contiguousCoverage(tree, 0x1800n, 0x1900n)?.map((n) => n.value)).toEqual(['b']);
    tree.remove(tree.lookup(0x1000n)!);
    expect(contiguousCoverage(tree, 0x800n, 0x2800n)).toBeUndefined();
    expect(contiguousCoverage(tree, 0x1000n, 0x1000n)).toBeUndefined();
  });
});
