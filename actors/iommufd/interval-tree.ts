/**
 * Interval tree over inclusive `[start, last]` u64 ranges: the kernel's interval_tree_node, used for
 * reserved_itree and allowed_itree (intervals may overlap). A treap with parent pointers, augmented with
 * each subtree's largest `last` so intersection queries descend in O(log n).
 * @see include/linux/interval_tree.h, lib/interval_tree.c
 */

export const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** An inclusive address range. */
export interface Span {
  readonly start: bigint;
  readonly last: bigint;
}

/** A stored interval. The handle stays valid until it is removed or the tree is cleared. */
export interface IntervalNode<T> extends Span {
  readonly value: T;
}

// Hot paths compare u64s as two int32 halves kept inside the node (V8 stores them unboxed, as Smis):
// a bigint field is a pointer to a separate heap object, and at a million nodes every descent is bound
// by cache misses, so chasing it per level costs more than the comparison. XOR with the sign bit makes
// signed int32 order match unsigned order.
const SIGN = 0x8000_0000;
const TWO32 = 0x1_0000_0000;

// Splitting goes through a typed-array view: V8 compiles that to plain loads and stores, where a shift
// and a mask would allocate two bigints per conversion.
const scratch = new BigUint64Array(1);
const halves = new Int32Array(scratch.buffer);
const HI = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;

/** @internal High half of a u64 in [0, U64_MAX], biased for signed comparison. */
export const hi32 = (v: bigint): number => {
  scratch[0] = v;
  return halves[HI]! ^ SIGN;
};
/** @internal */
export const lo32 = (v: bigint): number => {
  scratch[0] = v;
  return halves[LO]! ^ SIGN;
};
/** @internal Inverse of hi32/lo32. */
export const join64 = (h: number, l: number): bigint => {
  halves[HI] = h ^ SIGN;
  halves[LO] = l ^ SIGN;
  return scratch[0]!;
};
/** @internal `(ah, al) < (bh, bl)` on split u64s. */
export const lt = (ah: number, al: number, bh: number, bl: number): boolean =>
  ah < bh || (ah === bh && al < bl);
/**
 * `b - a` on split u64s as the nearest double: one rounding of the exact value, so it is monotone and
 * `dist(..) < Number(x)` proves the exact difference is below `x`.
 * @internal
 */
export const dist = (ah: number, al: number, bh: number, bl: number): number => (bh - ah) * TWO32 + (bl - al);

/**
 * The one node shape both trees use, so every hot access stays monomorphic. V8 lays fields out in
 * declaration order: descent fields come first, to share a cache line.
 * @internal
 */
export class TreapNode<T> implements IntervalNode<T> {
  left: TreapNode<T> | undefined;
  right: TreapNode<T> | undefined;
  sHi: number;
  sLo: number;
  lHi: number;
  lLo: number;
  /** Largest `last` in the subtree. */
  maxHi: number;
  maxLo: number;
  parent: TreapNode<T> | undefined;
  readonly prio: number;
  /** Smallest `start` in the subtree (maintained by the disjoint tree only). */
  minHi: number;
  minLo: number;
  /** Largest `next.start - prev.last` between neighbours in the subtree, as a double (disjoint tree only). */
  maxDist: number;
  readonly start: bigint;
  readonly last: bigint;
  readonly value: T;
  /** The tree's ownership token; `undefined` once removed. */
  owner: object | undefined;

  constructor(start: bigint, last: bigint, value: T, owner: object, prio: number) {
    this.left = undefined;
    this.right = undefined;
    this.sHi = hi32(start);
    this.sLo = lo32(start);
    this.lHi = hi32(last);
    this.lLo = lo32(last);
    this.maxHi = this.lHi;
    this.maxLo = this.lLo;
    this.parent = undefined;
    this.prio = prio;
    this.minHi = this.sHi;
    this.minLo = this.sLo;
    this.maxDist = 0;
    this.start = start;
    this.last = last;
    this.value = value;
    this.owner = owner;
  }
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** @internal */
export function spanText(start: bigint, last: bigint): string {
  return `[${hex(start)}, ${hex(last)}]`;
}

/** @internal */
export function checkSpan(start: bigint, last: bigint): void {
  if (start < 0n || start > last || last > U64_MAX)
    throw new RangeError(`bad interval ${spanText(start, last)}`);
}

/** A treap whose shape depends only on the operation sequence: priorities hash an insertion counter. */
export class IntervalTree<T> {
  /** @internal */
  protected root: TreapNode<T> | undefined = undefined;
  private count = 0;
  private seq = 0;
  /** Replaced on clear() so handles from before are rejected in O(1). */
  private owner: object = {};

  get size(): number {
    return this.count;
  }

  /** Inserts `[start, last]`; duplicates and overlaps are allowed. Equal starts keep insertion order. */
  insert(start: bigint, last: bigint, value: T): IntervalNode<T> {
    checkSpan(start, last);
    const h = hi32(start);
    const l = lo32(start);
    let p = this.root;
    let left = false;
    while (p !== undefined) {
      left = lt(h, l, p.sHi, p.sLo);
      const c = left ? p.left : p.right;
      if (c === undefined) break;
      p = c;
    }
    return this.attach(p, left, start, last, value);
  }

  remove(node: IntervalNode<T>): void {
    const x = this.own(node);
    // Rotate x down until it has at most one child, keeping the heap order, then splice it out.
    while (x.left !== undefined && x.right !== undefined) {
      this.rotateUp(x.left.prio > x.right.prio ? x.left : x.right);
    }
    const c = x.left ?? x.right;
    const p = x.parent;
    if (c !== undefined) c.parent = p;
    if (p === undefined) this.root = c;
    else if (p.left === x) p.left = c;
    else p.right = c;
    x.parent = x.left = x.right = undefined;
    x.owner = undefined;
    this.count--;
    this.fixUp(p);
  }

  clear(): void {
    this.root = undefined;
    this.count = 0;
    this.seq = 0;
    this.owner = {};
  }

  /** The node with the lowest start intersecting `[start, last]`. */
  firstIntersecting(start: bigint, last: bigint): IntervalNode<T> | undefined {
    const r = this.root;
    if (r === undefined || start > last || start > U64_MAX || last < 0n) return undefined;
    if (start < 0n) start = 0n;
    if (last > U64_MAX) last = U64_MAX;
    return firstIn(r, hi32(start), lo32(start), hi32(last), lo32(last));
  }

  intersects(start: bigint, last: bigint): boolean {
    return this.firstIntersecting(start, last) !== undefined;
  }

  /**
   * Nodes intersecting `[start, last]`, ascending by start. Removing the node just yielded is allowed;
   * any other mutation invalidates the iterator.
   */
  *intersecting(start: bigint, last: bigint): Generator<IntervalNode<T>, void, undefined> {
    const r = this.root;
    if (r === undefined || start > last || start > U64_MAX || last < 0n) return;
    if (start < 0n) start = 0n;
    if (last > U64_MAX) last = U64_MAX;
    const sh = hi32(start);
    const sl = lo32(start);
    const lh = hi32(last);
    const ll = lo32(last);
    let n = firstIn(r, sh, sl, lh, ll);
    while (n !== undefined) {
      const next = nextIntersecting(n, sh, sl, lh, ll);
      yield n;
      n = next;
    }
  }

  /** All nodes ascending by start. Removing the node just yielded is allowed. */
  *all(): Generator<IntervalNode<T>, void, undefined> {
    let n = this.firstNode();
    while (n !== undefined) {
      const next = successor(n);
      yield n;
      n = next;
    }
  }

  first(): IntervalNode<T> | undefined {
    return this.firstNode();
  }

  last(): IntervalNode<T> | undefined {
    let n = this.root;
    if (n !== undefined) while (n.right !== undefined) n = n.right;
    return n;
  }

  /** In-order successor (amortised O(1), worst O(log n)). */
  next(node: IntervalNode<T>): IntervalNode<T> | undefined {
    return successor(this.own(node));
  }

  prev(node: IntervalNode<T>): IntervalNode<T> | undefined {
    let x = this.own(node);
    if (x.left !== undefined) {
      x = x.left;
      while (x.right !== undefined) x = x.right;
      return x;
    }
    let p = x.parent;
    while (p !== undefined && p.left === x) {
      x = p;
      p = p.parent;
    }
    return p;
  }

  /**
   * Throws unless every structural invariant holds: parent links, BST and heap order, augmentation.
   * O(n); for tests.
   * @internal
   */
  checkInvariants(): void {
    let seen = 0;
    let prev: TreapNode<T> | undefined;
    const walk = (n: TreapNode<T>, parent: TreapNode<T> | undefined): void => {
      const at = spanText(n.start, n.last);
      if (n.parent !== parent) throw new Error(`bad parent link at ${at}`);
      if (n.owner !== this.owner) throw new Error(`foreign node at ${at}`);
      if (parent !== undefined && n.prio > parent.prio) throw new Error(`heap order broken at ${at}`);
      if (join64(n.sHi, n.sLo) !== n.start || join64(n.lHi, n.lLo) !== n.last)
        throw new Error(`bad key at ${at}`);
      if (n.left !== undefined) walk(n.left, n);
      if (prev !== undefined) this.checkOrder(prev, n);
      prev = n;
      seen++;
      if (n.right !== undefined) walk(n.right, n);
      // Children are verified first, so a recompute that changes anything means a stale aggregate.
      if (this.pull(n)) throw new Error(`stale augmentation at ${at}`);
    };
    if (this.root !== undefined) walk(this.root, undefined);
    if (seen !== this.count) throw new Error(`size ${this.count} but ${seen} nodes`);
  }

  /** @internal */
  protected checkOrder(prev: TreapNode<T>, n: TreapNode<T>): void {
    if (prev.start > n.start) throw new Error('in-order starts not ascending');
  }

  /**
   * Recomputes n's aggregates from its children; true if anything changed.
   * @internal
   */
  protected pull(n: TreapNode<T>): boolean {
    let mh = n.lHi;
    let ml = n.lLo;
    const l = n.left;
    const r = n.right;
    if (l !== undefined && lt(mh, ml, l.maxHi, l.maxLo)) {
      mh = l.maxHi;
      ml = l.maxLo;
    }
    if (r !== undefined && lt(mh, ml, r.maxHi, r.maxLo)) {
      mh = r.maxHi;
      ml = r.maxLo;
    }
    if (mh === n.maxHi && ml === n.maxLo) return false;
    n.maxHi = mh;
    n.maxLo = ml;
    return true;
  }

  /**
   * Links a new leaf under p (or as root), then restores aggregates and heap order.
   * @internal
   */
  protected attach(
    p: TreapNode<T> | undefined,
    left: boolean,
    start: bigint,
    last: bigint,
    value: T,
  ): TreapNode<T> {
    const z = new TreapNode(start, last, value, this.owner, this.nextPrio());
    this.count++;
    if (p === undefined) {
      this.root = z;
      return z;
    }
    z.parent = p;
    if (left) p.left = z;
    else p.right = z;
    // Aggregates depend on subtree contents, not shape: fix them first, rotations then keep them valid.
    this.fixUp(p);
    while (z.parent !== undefined && z.prio > z.parent.prio) this.rotateUp(z);
    return z;
  }

  /** @internal */
  protected own(node: IntervalNode<T>): TreapNode<T> {
    const n = node as TreapNode<T>;
    if (n.owner !== this.owner)
      throw new Error(`interval ${spanText(node.start, node.last)} is not in this tree`);
    return n;
  }

  /** @internal */
  protected firstNode(): TreapNode<T> | undefined {
    let n = this.root;
    if (n !== undefined) while (n.left !== undefined) n = n.left;
    return n;
  }

  /** Propagates a content change upwards, stopping where an aggregate comes out unchanged. */
  private fixUp(n: TreapNode<T> | undefined): void {
    while (n !== undefined && this.pull(n)) n = n.parent;
  }

  private rotateUp(x: TreapNode<T>): void {
    const p = x.parent!;
    const g = p.parent;
    if (p.left === x) {
      const b = x.right;
      p.left = b;
      if (b !== undefined) b.parent = p;
      x.right = p;
    } else {
      const b = x.left;
      p.right = b;
      if (b !== undefined) b.parent = p;
      x.left = p;
    }
    p.parent = x;
    x.parent = g;
    if (g === undefined) this.root = x;
    else if (g.left === p) g.left = x;
    else g.right = x;
    this.pull(p);
    this.pull(x);
  }

  /** murmur3's fmix32 over a Weyl sequence: well-spread priorities, same every run. */
  private nextPrio(): number {
    let z = (this.seq = (this.seq + 0x9e3779b9) | 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }
}

/**
 * Lowest-start node of the subtree at x intersecting `[start, last]` (given as split halves).
 * Going left whenever the left subtree reaches `start` is safe: if that subtree holds no answer, its
 * reaching interval starts after `last`, and so does everything to its right.
 */
function firstIn<T>(
  x: TreapNode<T>,
  sh: number,
  sl: number,
  lh: number,
  ll: number,
): TreapNode<T> | undefined {
  if (lt(x.maxHi, x.maxLo, sh, sl)) return undefined;
  for (;;) {
    const l = x.left;
    if (l !== undefined && !lt(l.maxHi, l.maxLo, sh, sl)) {
      x = l;
      continue;
    }
    if (lt(lh, ll, x.sHi, x.sLo)) return undefined;
    if (!lt(x.lHi, x.lLo, sh, sl)) return x;
    const r = x.right;
    if (r === undefined || lt(r.maxHi, r.maxLo, sh, sl)) return undefined;
    x = r;
  }
}

/** The kernel's interval_tree_iter_next: search the right subtree, else climb to the next ancestor. */
function nextIntersecting<T>(
  x: TreapNode<T>,
  sh: number,
  sl: number,
  lh: number,
  ll: number,
): TreapNode<T> | undefined {
  for (;;) {
    const r = x.right;
    if (r !== undefined) {
      const f = firstIn(r, sh, sl, lh, ll);
      if (f !== undefined) return f;
    }
    let p = x.parent;
    while (p !== undefined && p.right === x) {
      x = p;
      p = p.parent;
    }
    if (p === undefined || lt(lh, ll, p.sHi, p.sLo)) return undefined;
    if (!lt(p.lHi, p.lLo, sh, sl)) return p;
    x = p;
  }
}

function successor<T>(x: TreapNode<T>): TreapNode<T> | undefined {
  if (x.right !== undefined) {
    x = x.right;
    while (x.left !== undefined) x = x.left;
    return x;
  }
  let p = x.parent;
  while (p !== undefined && p.right === x) {
    x = p;
    p = p.parent;
  }
  return p;
}
