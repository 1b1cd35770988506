/**
 * Walks over the coverage of interval trees: the kernel's interval_tree_double_span_iter (free IOVA
 * between the reserved tree and the area tree) and iopt_area_contig (a range fully backed by areas).
 * @see drivers/iommu/iommufd/double_span.h, drivers/iommu/iommufd/io_pagetable.c
 */
import type { DisjointIntervalTree } from './area-tree.ts';
import type { IntervalNode, IntervalTree, Span } from './interval-tree.ts';

/**
 * The holes in `[start, last]` covered by neither `a` nor `b`, ascending. Either tree may hold overlapping
 * intervals. Each step is an O(log n) query that moves past at least one interval, so the cost is
 * O((holes + intervals that extend coverage) * log n). Do not mutate the trees while iterating.
 */
export function* doubleSpanHoles<A, B>(
  a: IntervalTree<A>,
  b: IntervalTree<B>,
  start: bigint,
  last: bigint,
): Generator<Span, void, undefined> {
  let cursor = start;
  let na = a.firstIntersecting(cursor, last);
  let nb = b.firstIntersecting(cursor, last);
  while (cursor <= last) {
    // The lowest-start interval reaching `cursor` stays the lowest as `cursor` grows, while it still
    // reaches: the candidates only shrink. So a query is repeated only once its answer fell behind,
    // and never once it came back empty.
    if (na !== undefined && na.last < cursor) na = a.firstIntersecting(cursor, last);
    if (nb !== undefined && nb.last < cursor) nb = b.firstIntersecting(cursor, last);
    if (na === undefined && nb === undefined) break;
    let next: Span;
    if (na === undefined) next = nb!;
    else if (nb === undefined) next = na;
    else if (na.start < nb.start) next = na;
    else if (nb.start < na.start) next = nb;
    else next = na.last >= nb.last ? na : nb;
    if (next.start > cursor) {
      yield { start: cursor, last: next.start - 1n };
    } else {
      // Both may already cover `cursor`: jump past the one reaching further.
      if (na !== undefined && na.start <= cursor && na.last > next.last) next = na;
      if (nb !== undefined && nb.start <= cursor && nb.last > next.last) next = nb;
    }
    if (next.last >= last) return;
    cursor = next.last + 1n;
  }
  if (cursor <= last) yield { start: cursor, last };
}

/**
 * The areas covering `[start, last]` if they tile it without a gap (each `next.start === prev.last + 1`),
 * else undefined. The first and last areas may extend past the range.
 */
export function contiguousCoverage<T>(
  tree: DisjointIntervalTree<T>,
  start: bigint,
  last: bigint,
): IntervalNode<T>[] | undefined {
  if (start > last) return undefined;
  let n = tree.lookup(start);
  if (n === undefined) return undefined;
  const nodes = [n];
  while (n.last < last) {
    const next: IntervalNode<T> | undefined = tree.next(n);
    if (next === undefined || next.start !== n.last + 1n) return undefined;
    nodes.push(next);
    n = next;
  }
  return nodes;
}
