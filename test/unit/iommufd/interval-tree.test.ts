import { fc, test } from '@fast-check/vitest';
// Plain cases use vitest's `it`: test/setup.ts sets a global numRuns, which makes @fast-check/vitest's
// one-off `test()` repeat its body that many times.
import { describe, expect, it } from 'vitest';
import {
  dist,
  hi32,
  type IntervalNode,
  IntervalTree,
  join64,
  lo32,
  lt,
  U64_MAX,
} from '../../../actors/iommufd/interval-tree.ts';

/**
 * Addresses crowd at both ends of the u64 space and around 2^32, where the trees' split halves carry, so
 * overlaps, duplicates and edge values are common.
 */
const addr = fc.oneof(
  fc.bigInt({ min: 0n, max: 40n }),
  fc.bigInt({ min: U64_MAX - 40n, max: U64_MAX }),
  fc.bigInt({ min: (1n << 32n) - 8n, max: (1n << 32n) + 8n }),
  fc.constantFrom(0n, (1n << 63n) - 1n, 1n << 63n, U64_MAX),
);
const span = fc.tuple(addr, addr).map(([x, y]): [bigint, bigint] => (x <= y ? [x, y] : [y, x]));
const op = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('insert' as const), span }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('query' as const), span }) },
);

interface Entry {
  readonly start: bigint;
  readonly last: bigint;
  readonly id: number;
  readonly node: IntervalNode<number>;
}

const byStartThenAge = (a: Entry, b: Entry): number =>
  a.start < b.start ? -1 : a.start > b.start ? 1 : a.id - b.id;
const ids = (nodes: Iterable<IntervalNode<number>>): number[] => [...nodes].map((n) => n.value);

interface Shape {
  start: bigint;
  left?: Shape;
  right?: Shape;
}
/** The treap's shape, read through its internals. */
function shape(tree: IntervalTree<number>): string {
  const walk = (n: Shape | undefined): string =>
    n === undefined ? '.' : `(${walk(n.left)} ${n.start} ${walk(n.right)})`;
  return walk((tree as unknown as { root?: Shape }).root);
}

describe('split u64 keys', () => {
  const u64 = fc.oneof(addr, fc.bigInt({ min: 0n, max: U64_MAX }));
  test.prop([u64, u64])('order, round-trip and distance match bigint arithmetic', (a, b) => {
    expect(lt(hi32(a), lo32(a), hi32(b), lo32(b))).toBe(a < b);
    expect(join64(hi32(a), lo32(a))).toBe(a);
    expect(dist(hi32(a), lo32(a), hi32(b), lo32(b))).toBe(Number(b - a));
  });
});

describe('IntervalTree', () => {
  test.prop([fc.array(op, { maxLength: 60 })])('behaves like a sorted array', (ops) => {
    const tree = new IntervalTree<number>();
    const model: Entry[] = [];
    let nextId = 0;
    for (const o of ops) {
      if (o.kind === 'insert') {
        const [s, l] = o.span;
        const id = nextId++;
        model.push({ start: s, last: l, id, node: tree.insert(s, l, id) });
        model.sort(byStartThenAge);
      } else if (o.kind === 'remove') {
        if (model.length === 0) continue;
        const [gone] = model.splice(o.pick % model.length, 1);
        tree.remove(gone!.node);
      } else {
        const [s, l] = o.span;
        const want = model.filter((e) => e.start <= l && e.last >= s).map((e) => e.id);
        expect(ids(tree.intersecting(s, l))).toEqual(want);
        expect(tree.firstIntersecting(s, l)?.value).toBe(want[0]);
        expect(tree.intersects(s, l)).toBe(want.length > 0);
      }
      tree.checkInvariants();
      expect(tree.size).toBe(model.length);
    }
    expect(ids(tree.all())).toEqual(model.map((e) => e.id));
    expect(tree.first()?.value).toBe(model[0]?.id);
    expect(tree.last()?.value).toBe(model.at(-1)?.id);
    for (const [i, e] of model.entries()) {
      expect(tree.next(e.node)?.value).toBe(model[i + 1]?.id);
      expect(tree.prev(e.node)?.value).toBe(model[i - 1]?.id);
    }
  });

  test.prop([fc.array(span, { maxLength: 40 }), span])(
    'lets the caller remove each node as it is yielded',
    (spans, [s, l]) => {
      const tree = new IntervalTree<number>();
      for (const [i, [a, b]] of spans.entries()) tree.insert(a, b, i);
      const want = ids(tree.intersecting(s, l));
      const got: number[] = [];
      for (const n of tree.intersecting(s, l)) {
        got.push(n.value);
        tree.remove(n);
      }
      expect(got).toEqual(want);
      expect(tree.intersects(s, l)).toBe(false);
      expect(tree.size).toBe(spans.length - want.length);
      tree.checkInvariants();
    },
  );

  test.prop([fc.array(span, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 20 })])(
    'derives its shape from the operation sequence alone',
    (spans, removals) => {
      const build = (): IntervalTree<number> => {
        const tree = new IntervalTree<number>();
        const nodes = spans.map(([a, b], i) => tree.insert(a, b, i));
        for (const r of removals) {
          const n = nodes.splice(r % Math.max(nodes.length, 1), 1)[0];
          if (n !== undefined) tree.remove(n);
        }
        return tree;
      };
      expect(shape(build())).toBe(shape(build()));
    },
  );

  it('covers the whole u64 space at the edges', () => {
    const tree = new IntervalTree<string>();
    tree.insert(0n, U64_MAX, 'all');
    tree.insert(U64_MAX, U64_MAX, 'top');
    tree.insert(0n, 0n, 'bottom');
    expect([...tree.intersecting(U64_MAX, U64_MAX)].map((n) => n.value)).toEqual(['all', 'top']);
    expect([...tree.intersecting(0n, 0n)].map((n) => n.value)).toEqual(['all', 'bottom']);
    expect(tree.firstIntersecting(1n, U64_MAX - 1n)?.value).toBe('all');
    expect(tree.intersects(5n, 4n)).toBe(false);
  });

  it('rejects malformed intervals', () => {
    const tree = new IntervalTree<null>();
    expect(() => tree.insert(2n, 1n, null)).toThrow(RangeError);
    expect(() => tree.insert(-1n, 1n, null)).toThrow(RangeError);
    expect(() => tree.insert(0n, U64_MAX + 1n, null)).toThrow(RangeError);
    expect(tree.size).toBe(0);
  });

  it('rejects handles it does not own', () => {
    const a = new IntervalTree<number>();
    const b = new IntervalTree<number>();
    const n = a.insert(1n, 2n, 0);
    expect(() => b.remove(n)).toThrow(/not in this tree/);
    a.remove(n);
    expect(() => a.remove(n)).toThrow(/not in this tree/);
    const m = a.insert(1n, 2n, 1);
    a.clear();
    expect(a.size).toBe(0);
    expect(() => a.next(m)).toThrow(/not in this tree/);
  });

  it('stays balanced under sorted insertion', () => {
    const tree = new IntervalTree<number>();
    const n = 20_000;
    for (let i = 0; i < n; i++) tree.insert(BigInt(i), BigInt(i) + 5n, i);
    const depth = (x: Shape | undefined): number =>
      x === undefined ? 0 : 1 + Math.max(depth(x.left), depth(x.right));
    // A treap's expected depth is about 3 ln n (~30 here); 4 log2 n leaves ample headroom.
    expect(depth((tree as unknown as { root?: Shape }).root)).toBeLessThan(4 * Math.log2(n));
    expect(ids(tree.intersecting(1000n, 1002n))).toEqual([995, 996, 997, 998, 999, 1000, 1001, 1002]);
  });
});
