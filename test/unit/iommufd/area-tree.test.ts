import { fc, test } from '@fast-check/vitest';
// Plain cases use vitest's `it`: test/setup.ts sets a global numRuns, which makes @fast-check/vitest's
// one-off `test()` repeat its body that many times.
import { describe, expect, it } from 'vitest';
import { DisjointIntervalTree, type HoleAccept } from '../../../actors/iommufd/area-tree.ts';
import { type IntervalNode, type Span, U64_MAX } from '../../../actors/iommufd/interval-tree.ts';

const addr = fc.oneof(
  fc.bigInt({ min: 0n, max: 40n }),
  fc.bigInt({ min: U64_MAX - 40n, max: U64_MAX }),
  fc.bigInt({ min: (1n << 32n) - 8n, max: (1n << 32n) + 8n }),
  fc.constantFrom(0n, (1n << 63n) - 1n, 1n << 63n, U64_MAX),
);
const atMostMax = (v: bigint): bigint => (v > U64_MAX ? U64_MAX : v);
const span = fc.tuple(addr, addr).map(([x, y]): [bigint, bigint] => (x <= y ? [x, y] : [y, x]));
/** Mostly short intervals, so that many inserts fit before they start to collide. */
const area = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(addr, fc.bigInt({ min: 0n, max: 3n })) },
  { weight: 1, arbitrary: span.map(([s, l]): [bigint, bigint] => [s, l - s]) },
);
const minLength = fc.oneof(fc.bigInt({ min: 0n, max: 6n }), fc.constantFrom(1n << 64n, U64_MAX, 1n << 63n));
const acceptKind = fc.constantFrom('start', 'last', 'aligned', 'never', 'odd');

function acceptor(kind: string, size: bigint): HoleAccept {
  switch (kind) {
    case 'start':
      return (s) => s;
    case 'last':
      return (_, l) => l;
    case 'aligned':
      // The IOVA allocator's shape: align the start up, then check the request still fits.
      return (s, l) => {
        const a = (s + 3n) & ~3n;
        return a + (size > 0n ? size - 1n : 0n) <= l ? a : undefined;
      };
    case 'odd':
      return (s, l) => ((l - s) % 2n === 1n ? s : undefined);
    default:
      return () => undefined;
  }
}

const op = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('insert' as const), area }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lookup' as const), at: addr }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('query' as const), span }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('holes' as const), span }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('fit' as const), span, minLength, accept: acceptKind }),
  },
);

interface Entry {
  readonly start: bigint;
  readonly last: bigint;
  readonly node: IntervalNode<number>;
}

function naiveHoles(sorted: readonly Span[], start: bigint, last: bigint): Span[] {
  const out: Span[] = [];
  let cursor = start;
  for (const e of sorted) {
    if (e.last < cursor) continue;
    if (e.start > last || cursor > last) break;
    if (e.start > cursor) out.push({ start: cursor, last: e.start - 1n });
    cursor = e.last + 1n;
  }
  if (cursor <= last) out.push({ start: cursor, last });
  return out;
}

const pair = (s: Span): [bigint, bigint] => [s.start, s.last];

describe('DisjointIntervalTree', () => {
  test.prop([fc.array(op, { maxLength: 60 })])('behaves like a sorted array of disjoint intervals', (ops) => {
    const tree = new DisjointIntervalTree<number>();
    let model: Entry[] = [];
    let nextId = 0;
    for (const o of ops) {
      switch (o.kind) {
        case 'insert': {
          const [s, len] = o.area;
          const l = atMostMax(s + len);
          if (model.some((e) => e.start <= l && e.last >= s)) {
            expect(() => tree.insert(s, l, -1)).toThrow(/overlaps/);
          } else {
            model.push({ start: s, last: l, node: tree.insert(s, l, nextId++) });
            model = model.sort((a, b) => (a.start < b.start ? -1 : 1));
          }
          break;
        }
        case 'remove': {
          if (model.length === 0) break;
          const [gone] = model.splice(o.pick % model.length, 1);
          tree.remove(gone!.node);
          break;
        }
        case 'lookup':
          expect(tree.lookup(o.at)).toBe(model.find((e) => e.start <= o.at && o.at <= e.last)?.node);
          break;
        case 'query': {
          const [s, l] = o.span;
          const want = model.filter((e) => e.start <= l && e.last >= s).map((e) => e.node);
          expect([...tree.intersecting(s, l)]).toEqual(want);
          expect(tree.firstIntersecting(s, l)).toBe(want[0]);
          break;
        }
        case 'holes': {
          const [s, l] = o.span;
          expect([...tree.holes(s, l)].map(pair)).toEqual(naiveHoles(model, s, l).map(pair));
          break;
        }
        case 'fit': {
          const [s, l] = o.span;
          const min = o.minLength > 1n ? o.minLength : 1n;
          const accept = acceptor(o.accept, o.minLength);
          // The holes offered must be exactly the long-enough ones, in order, up to the accepted one.
          const want: [bigint, bigint][] = [];
          let wantResult: bigint | undefined;
          for (const h of naiveHoles(model, s, l)) {
            if (h.last - h.start + 1n < min) continue;
            want.push(pair(h));
            if ((wantResult = accept(h.start, h.last)) !== undefined) break;
          }
          const offered: [bigint, bigint][] = [];
          const got = tree.firstFit(
            s,
            l,
            (hs, hl) => {
              offered.push([hs, hl]);
              return accept(hs, hl);
            },
            o.minLength,
          );
          expect(offered).toEqual(want);
          expect(got).toBe(wantResult);
          break;
        }
      }
      tree.checkInvariants();
      expect(tree.size).toBe(model.length);
    }
    expect([...tree.all()]).toEqual(model.map((e) => e.node));
    for (const [i, e] of model.entries()) {
      expect(tree.next(e.node)).toBe(model[i + 1]?.node);
      expect(tree.prev(e.node)).toBe(model[i - 1]?.node);
    }
  });

  it('rejects an overlapping insert without changing anything', () => {
    const tree = new DisjointIntervalTree<string>();
    tree.insert(0x1000n, 0x1fffn, 'a');
    tree.insert(0x3000n, 0x3fffn, 'b');
    for (const [s, l] of [
      [0x1fffn, 0x2000n],
      [0x0n, 0xffffn],
      [0x3fffn, 0x3fffn],
      [0x2000n, 0x3000n],
    ] as const) {
      expect(() => tree.insert(s, l, 'x')).toThrow(/overlaps/);
    }
    tree.insert(0x2000n, 0x2fffn, 'c');
    tree.checkInvariants();
    expect([...tree.all()].map((n) => n.value)).toEqual(['a', 'c', 'b']);
  });

  it('handles holes touching both ends of the u64 space', () => {
    const tree = new DisjointIntervalTree<null>();
    const full: HoleAccept = (s) => s;
    expect(tree.firstFit(0n, U64_MAX, full, 1n << 64n)).toBe(0n);
    expect([...tree.holes(0n, U64_MAX)].map(pair)).toEqual([[0n, U64_MAX]]);
    tree.insert(U64_MAX, U64_MAX, null);
    tree.insert(0n, 0n, null);
    expect([...tree.holes(0n, U64_MAX)].map(pair)).toEqual([[1n, U64_MAX - 1n]]);
    expect(tree.firstFit(0n, U64_MAX, (_, l) => l, U64_MAX - 1n)).toBe(U64_MAX - 1n);
    expect(tree.firstFit(0n, U64_MAX, full, U64_MAX)).toBeUndefined();
    expect(tree.lookup(U64_MAX)?.last).toBe(U64_MAX);
  });

  /** `n` areas of 15 bytes on a 16-byte stride: a 1-byte hole after each, and one 17-byte hole at `wide`. */
  function packed(n: number, wide: readonly number[]): DisjointIntervalTree<number> {
    const tree = new DisjointIntervalTree<number>();
    const skip = new Set(wide);
    for (let i = 0; i < n; i++) if (!skip.has(i)) tree.insert(BigInt(i) * 16n, BigInt(i) * 16n + 14n, i);
    return tree;
  }

  it('skips narrow holes in O(log n) visits', () => {
    for (const n of [1_000, 100_000]) {
      const wide = [Math.floor(n * 0.1), Math.floor(n * 0.2), Math.floor(n * 0.4), Math.floor(n * 0.8)];
      const holeAt = wide.map((i) => BigInt(i - 1) * 16n + 15n);
      const tree = packed(n, wide);
      const end = BigInt(n) * 16n - 1n;
      // A linear walk would visit ~n nodes; the treap is ~3 ln n deep and one search walks about two
      // root-to-leaf paths.
      const bound = 8 * Math.log2(n);
      expect(tree.firstFit(0n, end, (s) => s, 16n)).toBe(holeAt[0]);
      expect(tree.fitVisits).toBeLessThan(bound);
      expect(tree.firstFit(holeAt[2]!, end, (s) => s, 16n)).toBe(holeAt[2]);
      expect(tree.fitVisits).toBeLessThan(bound);
      // With nothing wide enough the answer comes just as fast.
      expect(tree.firstFit(0n, end, (s) => s, 18n)).toBeUndefined();
      expect(tree.fitVisits).toBeLessThan(bound);
      // Each refused hole costs another O(log n).
      const offered: bigint[] = [];
      const found = tree.firstFit(0n, U64_MAX, (s) => (offered.push(s) === wide.length ? s : undefined), 16n);
      expect(offered).toEqual(holeAt);
      expect(found).toBe(holeAt.at(-1));
      expect(tree.fitVisits).toBeLessThan(wide.length * bound);
    }
  });
});
