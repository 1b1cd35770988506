import { HPAGE_SIZE_N, PAGE_SIZE_N } from '../mem/page.ts';
import { fail } from './errno.ts';
import { type IoPagetable, ULONG_MAX } from './io-pagetable.ts';

/**
 * `iopt_alloc_iova`: the lowest IOVA, inside the allowed ranges (or [PAGE_SIZE, ULONG_MAX -
 * PAGE_SIZE] with none), that is neither reserved nor mapped, aligned to the smaller of the
 * length's and `addr`'s natural alignment (capped at a huge page), keeping `addr`'s sub-page
 * offset so a THP-backed buffer can map with large IOPTEs.
 */
export function allocIova(iopt: IoPagetable, addr: bigint, length: bigint): bigint {
  if (length === 0n || length >= ULONG_MAX / 2n) fail('EOVERFLOW', `auto IOVA length ${length}`);
  const pageOffset = addr % PAGE_SIZE_N;
  let align = roundupPowOfTwo(length);
  if (addr !== 0n) {
    const addrAlign = addr & -addr;
    if (addrAlign < align) align = addrAlign;
  }
  if (align >= HPAGE_SIZE_N) align = HPAGE_SIZE_N;
  if (align < iopt.iovaAlignment) {
    fail('EINVAL', `auto IOVA alignment ${align} below the IOAS alignment ${iopt.iovaAlignment}`);
  }

  for (const [spanStart, spanLast] of allowedSpans(iopt)) {
    if (checkRange(spanStart, spanLast, length, align, pageOffset) === undefined) continue;
    const found = iopt.areas.firstFit(
      spanStart,
      spanLast,
      (holeStart, holeLast) => firstFitOutsideReserved(iopt, holeStart, holeLast, length, align, pageOffset),
      length,
    );
    if (found !== undefined) return found;
  }
  fail('ENOSPC', `no free IOVA range of ${length} bytes`);
}

/** `__alloc_iova_check_range`: the aligned candidate inside [start, last], or undefined. */
function checkRange(start: bigint, last: bigint, length: bigint, align: bigint, pageOffset: bigint) {
  let aligned = start + align - 1n;
  if (aligned > ULONG_MAX) return undefined;
  aligned = (aligned & ~(align - 1n)) | pageOffset;
  if (aligned >= last || last - aligned < length - 1n) return undefined;
  return aligned;
}

/** The allowed tree's used spans within [PAGE_SIZE, ULONG_MAX - PAGE_SIZE], merged. */
function* allowedSpans(iopt: IoPagetable): Generator<[bigint, bigint]> {
  const lo = PAGE_SIZE_N;
  const hi = ULONG_MAX - PAGE_SIZE_N;
  if (iopt.allowed.size === 0) {
    yield [lo, hi];
    return;
  }
  let cur: [bigint, bigint] | undefined;
  for (const n of iopt.allowed.intersecting(lo, hi)) {
    const s = n.start < lo ? lo : n.start;
    const l = n.last > hi ? hi : n.last;
    if (cur && s <= cur[1] + 1n) {
      if (l > cur[1]) cur[1] = l;
      continue;
    }
    if (cur) yield cur;
    cur = [s, l];
  }
  if (cur) yield cur;
}

/** Walks the parts of an area hole not covered by reserved ranges, returning the first fit. */
function firstFitOutsideReserved(
  iopt: IoPagetable,
  holeStart: bigint,
  holeLast: bigint,
  length: bigint,
  align: bigint,
  pageOffset: bigint,
): bigint | undefined {
  let cursor = holeStart;
  for (const r of iopt.reserved.intersecting(holeStart, holeLast)) {
    if (r.start > cursor) {
      const fit = checkRange(cursor, r.start - 1n, length, align, pageOffset);
      if (fit !== undefined) return fit;
    }
    if (r.last >= holeLast) return undefined;
    if (r.last + 1n > cursor) cursor = r.last + 1n;
  }
  return checkRange(cursor, holeLast, length, align, pageOffset);
}

export function roundupPowOfTwo(n: bigint): bigint {
  let p = 1n;
  while (p < n) p <<= 1n;
  return p;
}
