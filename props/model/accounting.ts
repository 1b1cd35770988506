import { PAGE_SIZE } from '../../actors/mem/page.ts';
import { ioasWithDomain } from './graph.ts';
import type { Model } from './model.ts';

const SHIFT = BigInt(Math.log2(PAGE_SIZE));

/**
 * Pages `proc` must have pinned: the distinct (pages object, 4 KiB page) pairs under live areas
 * of IOASes that hold a domain, and under ranges an in-kernel access pinned. A page shared by IOAS_COPY counts once; two MAPs of the same
 * memory are two pages objects and count twice, as in the kernel.
 */
export function expectedPinned(m: Readonly<Model>, proc: number): bigint {
  const key = m.procs[proc]!.ctx;
  const ctx = key === undefined ? undefined : m.ctxs.get(key);
  if (!ctx) return 0n;
  const withDomain = ioasWithDomain(ctx);
  const seen = new Set<string>();
  for (const ioas of ctx.ioas) {
    if (!withDomain.has(ioas.id)) continue;
    for (const a of ioas.areas) {
      const first = a.uva >> SHIFT;
      const last = (a.uva + a.length - 1n) >> SHIFT;
      // A pinned area lies inside a small buffer; anything larger could not have been pinned.
      if (last - first > 1n << 16n) continue;
      for (let p = first; p <= last; p++) seen.add(`${a.pages}:${p}`);
    }
  }
  // Pages an in-kernel access pinned are pinned once more only if no domain pinned them already.
  for (const access of ctx.accesses) {
    for (const pin of access.pins) {
      for (const a of pin.areas) {
        const from = pin.iova > a.iova ? pin.iova : a.iova;
        const to = pin.iova + pin.length < a.iova + a.length ? pin.iova + pin.length : a.iova + a.length;
        if (from >= to) continue;
        const first = (a.uva + (from - a.iova)) >> SHIFT;
        const last = (a.uva + (to - 1n - a.iova)) >> SHIFT;
        for (let p = first; p <= last; p++) seen.add(`${a.pages}:${p}`);
      }
    }
  }
  return BigInt(seen.size);
}
