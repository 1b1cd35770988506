/**
 * Deterministic pfn allocation, separate from frame contents: the lowest freed pfn first, else a bump
 * pointer. Pfns are JS numbers here (they fit in 53 bits) for speed.
 */
export class FrameAllocator {
  #bump: number;
  /** Freed pfns below the bump pointer; the heap orders them and is pruned lazily against this set. */
  readonly #free = new Set<number>();
  readonly #heap: number[] = [];
  /** Free pfns on a `hugeAlign` boundary: the candidate starts for huge contiguous runs. */
  readonly #freeHuge = new Set<number>();

  constructor(
    basePfn: number,
    private readonly hugeAlign: number,
  ) {
    this.#bump = basePfn;
  }

  get nextPfn(): number {
    return this.#bump;
  }

  alloc(): number {
    while (this.#heap.length > 0) {
      const p = heapPop(this.#heap);
      if (this.#free.has(p)) {
        this.#unfree(p);
        return p;
      }
    }
    return this.#bump++;
  }

  /** The first pfn of `npages` contiguous pfns aligned to `align` (a power of two). */
  allocRun(npages: number, align: number): number {
    const start = this.#findRun(npages, align);
    // Pfns skipped to reach alignment become allocatable singles.
    for (let p = this.#bump; p < start; p++) this.free(p);
    for (let p = start; p < start + npages && p < this.#bump; p++) this.#unfree(p);
    this.#bump = Math.max(this.#bump, start + npages);
    return start;
  }

  free(p: number): void {
    this.#free.add(p);
    heapPush(this.#heap, p);
    if (p % this.hugeAlign === 0) this.#freeHuge.add(p);
  }

  /** The lowest aligned start whose run is all free or above the bump pointer. */
  #findRun(npages: number, align: number): number {
    const pool = align % this.hugeAlign === 0 ? this.#freeHuge : this.#free;
    const starts = [...pool].filter((p) => p % align === 0).sort((a, b) => a - b);
    for (const s of starts) {
      let ok = true;
      for (let p = s; p < s + npages && p < this.#bump; p++) {
        if (!this.#free.has(p)) {
          ok = false;
          break;
        }
      }
      if (ok) return s;
    }
    return Math.ceil(this.#bump / align) * align;
  }

  #unfree(p: number): void {
    this.#free.delete(p);
    this.#freeHuge.delete(p);
  }
}

function heapPush(h: number[], v: number): void {
  let i = h.push(v) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (h[parent]! <= v) break;
    h[i] = h[parent]!;
    i = parent;
  }
  h[i] = v;
}

function heapPop(h: number[]): number {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length === 0) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= h.length) break;
    const r = l + 1;
    const c = r < h.length && h[r]! < h[l]! ? r : l;
    if (h[c]! >= last) break;
    h[i] = h[c]!;
    i = c;
  }
  h[i] = last;
  return top;
}
