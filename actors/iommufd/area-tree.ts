/**
 * Tree of non-overlapping intervals: the IOAS area tree (iopt->area_itree). On top of the interval
 * tree it keeps, per subtree, the smallest start and the widest hole between neighbours, so the IOVA
 * allocator can skip every hole too small for a request in O(log n) instead of walking them.
 * @see drivers/iommu/iommufd/io_pagetable.c (iopt_alloc_iova)
 */
import {
  checkSpan,
  dist,
  hi32,
  type IntervalNode,
  IntervalTree,
  join64,
  lo32,
  lt,
  type Span,
  spanText,
  type TreapNode,
  U64_MAX,
} from './interval-tree.ts';

/** Called on each hole large enough; a non-undefined result ends the search and is returned. */
export type HoleAccept = (holeStart: bigint, holeLast: bigint) => bigint | undefined;

/** Per-call search state, so an `accept` that searches this tree again cannot clobber it. */
interface Fit {
  readonly spanStart: bigint;
  readonly spanLast: bigint;
  readonly ssh: number;
  readonly ssl: number;
  readonly slh: number;
  readonly sll: number;
  /**
   * A hole of length L lies between neighbours with `next.start - prev.last = L + 1`. Kept as the nearest
   * double, like the augmentation; both round the same monotone way, so `maxDist < minDist` is exact proof
   * that a subtree has no hole long enough.
   */
  readonly minDist: number;
  /** Clipped holes qualify when `holeLast - holeStart >= minLength - 1`. */
  readonly minSpan: bigint;
  readonly accept: HoleAccept;
  visits: number;
}

export class DisjointIntervalTree<T> extends IntervalTree<T> {
  /** Nodes examined by the most recent firstFit(); instrumentation for the scaling test. */
  fitVisits = 0;

  /** Inserts `[start, last]`; throws if it overlaps a stored interval (a caller bug). */
  override insert(start: bigint, last: bigint, value: T): IntervalNode<T> {
    checkSpan(start, last);
    const sh = hi32(start);
    const sl = lo32(start);
    const lh = hi32(last);
    const ll = lo32(last);
    let p = this.root;
    let left = false;
    while (p !== undefined) {
      // The in-order neighbours of the insertion point all lie on this path, so checking each
      // visited node is a complete overlap check.
      if (lt(lh, ll, p.sHi, p.sLo)) left = true;
      else if (lt(p.lHi, p.lLo, sh, sl)) left = false;
      else throw new Error(`interval ${spanText(start, last)} overlaps ${spanText(p.start, p.last)}`);
      const c = left ? p.left : p.right;
      if (c === undefined) break;
      p = c;
    }
    return this.attach(p, left, start, last, value);
  }

  /** The node containing `addr`. */
  lookup(addr: bigint): IntervalNode<T> | undefined {
    if (addr < 0n || addr > U64_MAX) return undefined;
    const h = hi32(addr);
    const l = lo32(addr);
    let x = this.root;
    while (x !== undefined) {
      if (lt(h, l, x.sHi, x.sLo)) x = x.left;
      else if (lt(x.lHi, x.lLo, h, l)) x = x.right;
      else return x;
    }
    return undefined;
  }

  /**
   * Walks the holes of `[spanStart, spanLast]` (clipped to it and to u64) in ascending order, skipping
   * holes shorter than `minLength`, and returns the first non-undefined `accept` result. O(log n) per hole
   * offered.
   */
  firstFit(spanStart: bigint, spanLast: bigint, accept: HoleAccept, minLength: bigint): bigint | undefined {
    this.fitVisits = 0;
    if (spanStart < 0n) spanStart = 0n;
    if (spanLast > U64_MAX) spanLast = U64_MAX;
    if (spanStart > spanLast) return undefined;
    const minLen = minLength > 1n ? minLength : 1n;
    const f: Fit = {
      spanStart,
      spanLast,
      ssh: hi32(spanStart),
      ssl: lo32(spanStart),
      slh: hi32(spanLast),
      sll: lo32(spanLast),
      minDist: Number(minLen + 1n),
      minSpan: minLen - 1n,
      accept,
      visits: 0,
    };
    const found = this.fit(f);
    this.fitVisits = f.visits;
    return found;
  }

  /** All holes of `[spanStart, spanLast]` in ascending order. Linear in the intervals crossed. */
  *holes(spanStart: bigint, spanLast: bigint): Generator<Span, void, undefined> {
    if (spanStart < 0n) spanStart = 0n;
    if (spanLast > U64_MAX) spanLast = U64_MAX;
    if (spanStart > spanLast) return;
    let cursor = spanStart;
    // Lowest start among intervals ending at or after spanStart.
    let n = this.firstIntersecting(spanStart, spanLast);
    while (n !== undefined && n.start <= spanLast) {
      if (n.start > cursor) yield { start: cursor, last: n.start - 1n };
      if (n.last >= spanLast) return;
      cursor = n.last + 1n;
      n = this.next(n);
    }
    yield { start: cursor, last: spanLast };
  }

  /** @internal */
  protected override checkOrder(prev: TreapNode<T>, n: TreapNode<T>): void {
    if (prev.last >= n.start) throw new Error(`${spanText(prev.start, prev.last)} overlaps its successor`);
  }

  /** @internal */
  protected override pull(n: TreapNode<T>): boolean {
    const l = n.left;
    const r = n.right;
    // Disjoint and sorted: the subtree's extremes are its leftmost start and rightmost last.
    let minHi = n.sHi;
    let minLo = n.sLo;
    let maxHi = n.lHi;
    let maxLo = n.lLo;
    let d = 0;
    if (l !== undefined) {
      minHi = l.minHi;
      minLo = l.minLo;
      d = dist(l.maxHi, l.maxLo, n.sHi, n.sLo);
      if (l.maxDist > d) d = l.maxDist;
    }
    if (r !== undefined) {
      maxHi = r.maxHi;
      maxLo = r.maxLo;
      const g = dist(n.lHi, n.lLo, r.minHi, r.minLo);
      if (g > d) d = g;
      if (r.maxDist > d) d = r.maxDist;
    }
    if (minHi === n.minHi && minLo === n.minLo && maxHi === n.maxHi && maxLo === n.maxLo && d === n.maxDist) {
      return false;
    }
    n.minHi = minHi;
    n.minLo = minLo;
    n.maxHi = maxHi;
    n.maxLo = maxLo;
    n.maxDist = d;
    return true;
  }

  private fit(f: Fit): bigint | undefined {
    const root = this.root;
    if (root === undefined) return offer(f, f.spanStart, f.spanLast);
    let found: bigint | undefined;
    // Leading and trailing holes border no interval on one side, so the augmentation does not see them.
    const first = join64(root.minHi, root.minLo);
    if (first > f.spanStart && (found = offer(f, f.spanStart, first - 1n)) !== undefined) return found;
    if ((found = this.fitIn(f, root)) !== undefined) return found;
    const end = join64(root.maxHi, root.maxLo);
    if (end < f.spanLast) return offer(f, end + 1n, f.spanLast);
    return undefined;
  }

  /**
   * In-order search of the holes between neighbours inside the subtree at n. A subtree lying wholly inside
   * the span with a wide enough hole always succeeds (unless `accept` refuses), and only the two subtrees
   * straddling the span's ends are entered otherwise, so one search visits O(depth) nodes.
   */
  private fitIn(f: Fit, n: TreapNode<T>): bigint | undefined {
    f.visits++;
    if (n.maxDist < f.minDist || lt(n.maxHi, n.maxLo, f.ssh, f.ssl) || lt(f.slh, f.sll, n.minHi, n.minLo)) {
      return undefined;
    }
    let found: bigint | undefined;
    const l = n.left;
    if (l !== undefined) {
      if ((found = this.fitIn(f, l)) !== undefined) return found;
      // The double pre-check spares building bigints for the many holes that are too short anyway.
      if (
        dist(l.maxHi, l.maxLo, n.sHi, n.sLo) >= f.minDist &&
        (found = offer(f, join64(l.maxHi, l.maxLo) + 1n, n.start - 1n)) !== undefined
      ) {
        return found;
      }
    }
    const r = n.right;
    if (r === undefined) return undefined;
    if (
      dist(n.lHi, n.lLo, r.minHi, r.minLo) >= f.minDist &&
      (found = offer(f, n.last + 1n, join64(r.minHi, r.minLo) - 1n)) !== undefined
    ) {
      return found;
    }
    return this.fitIn(f, r);
  }
}

/** Clips a hole to the span and hands it to `accept` if still long enough. */
function offer(f: Fit, holeStart: bigint, holeLast: bigint): bigint | undefined {
  if (holeStart < f.spanStart) holeStart = f.spanStart;
  if (holeLast > f.spanLast) holeLast = f.spanLast;
  // Also rejects empty holes: minSpan >= 0.
  if (holeLast - holeStart < f.minSpan) return undefined;
  return f.accept(holeStart, holeLast);
}
