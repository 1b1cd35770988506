import type { PhysMemory } from '../../actors/mem/phys-memory.ts';

/**
 * The table pages one page table owns: allocated from physical memory as the table grows,
 * returned only once the IOMMU can no longer reach them (after the flush that follows unmap).
 */
export class TablePages {
  readonly #pfns = new Set<bigint>();

  constructor(private readonly phys: PhysMemory) {}

  get count(): number {
    return this.#pfns.size;
  }

  /** A zeroed table page; returns its physical address. */
  alloc(): bigint {
    this.phys.failNth.point('table', 'amd.pgtable');
    const pfn = this.phys.allocPage();
    this.#pfns.add(pfn);
    return pfn << 12n;
  }

  /** Frees the given table pages (physical addresses) that this table owns. */
  release(tables: readonly bigint[]): void {
    for (const pa of tables) {
      const pfn = pa >> 12n;
      if (this.#pfns.delete(pfn)) this.phys.put(pfn);
    }
  }

  releaseAll(): void {
    for (const pfn of this.#pfns) this.phys.put(pfn);
    this.#pfns.clear();
  }
}
