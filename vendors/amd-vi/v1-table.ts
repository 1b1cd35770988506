import { fail } from '../../actors/iommufd/errno.ts';
import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { TablePages } from './table-pages.ts';
import {
  encodeLeaf,
  encodePde,
  largePageLog2,
  leafAddress,
  leafLevel,
  levelIndex,
  levelShift,
  NEXT_LEVEL_LARGE,
  nextLevel,
  PTE_ADDR_MASK,
  PTE_HD,
  PTE_PR,
  replicaCount,
} from './v1-pte.ts';

type Found =
  | { present: true; ptePa: bigint; pte: bigint; log2Size: number }
  | { present: false; log2Size: number };

/**
 * The kernel's side of a v1 (host) page table (io_pgtable.c, iommu_v1_*): a fixed number of
 * levels, table pages from physical memory, PDEs written as PM_LEVEL_PDE, leaves as
 * iommu_v1_map_pages writes them (NextLevel 7 and replicated for sizes between levels).
 * Empty tables are kept after unmap, as Linux does.
 */
export class V1PageTable {
  readonly root: bigint;
  readonly #tables: TablePages;

  constructor(
    private readonly phys: PhysMemory,
    readonly levels: number,
  ) {
    this.#tables = new TablePages(phys);
    this.root = this.#tables.alloc();
  }

  /** Table pages in use (root included). */
  get pages(): number {
    return this.#tables.count;
  }

  /** Returns table pages to the allocator (after the IOMMU can no longer reach them). */
  release(tables: readonly bigint[]): void {
    this.#tables.release(tables);
  }

  destroy(): void {
    this.#tables.releaseAll();
  }

  /**
   * Maps one page of 2^log2Size bytes. Returns the table pages that PDEs in the way pointed at
   * (left over by earlier small mappings): the caller frees them after flushing with PDE=1.
   */
  mapPage(iova: bigint, pa: bigint, log2Size: number, read: boolean, write: boolean): bigint[] {
    const target = leafLevel(log2Size);
    if (target > this.levels) throw new Error(`page 2^${log2Size} does not fit ${this.levels} levels`);
    let table = this.root;
    for (let level = this.levels; level > target; level--) {
      const at = table + BigInt(levelIndex(level, iova) * 8);
      const pte = this.phys.readU64(at);
      if (!(pte & PTE_PR)) {
        const next = this.#tables.alloc();
        this.phys.writeU64(at, encodePde(level - 1, next));
        table = next;
        continue;
      }
      const nl = nextLevel(pte);
      if (nl === 0 || nl === NEXT_LEVEL_LARGE)
        fail('EEXIST', `map over a live page at 0x${iova.toString(16)}`);
      table = pte & PTE_ADDR_MASK;
    }
    const count = replicaCount(log2Size);
    const first = levelIndex(target, iova) & ~(count - 1);
    const freed: bigint[] = [];
    for (let i = 0; i < count; i++) {
      const old = this.phys.readU64(table + BigInt((first + i) * 8));
      if (!(old & PTE_PR)) continue;
      const nl = nextLevel(old);
      if (nl === 0 || nl === NEXT_LEVEL_LARGE)
        fail('EEXIST', `map over a live page at 0x${iova.toString(16)}`);
      this.#collect(old & PTE_ADDR_MASK, nl, freed);
    }
    const leaf = encodeLeaf(pa, log2Size, read, write);
    for (let i = 0; i < count; i++) this.phys.writeU64(table + BigInt((first + i) * 8), leaf);
    return freed;
  }

  #collect(table: bigint, level: number, out: bigint[]): void {
    out.push(table);
    if (level === 1) return;
    for (let i = 0; i < 512; i++) {
      const pte = this.phys.readU64(table + BigInt(i * 8));
      const nl = nextLevel(pte);
      if (pte & PTE_PR && nl !== 0 && nl !== NEXT_LEVEL_LARGE) this.#collect(pte & PTE_ADDR_MASK, nl, out);
    }
  }

  /** Linux fetch_pte: the leaf covering `iova` (its first replica), or the size of the hole. */
  fetch(iova: bigint): Found {
    let table = this.root;
    let level = this.levels;
    for (;;) {
      const idx = levelIndex(level, iova);
      const pte = this.phys.readU64(table + BigInt(idx * 8));
      if (!(pte & PTE_PR)) return { present: false, log2Size: levelShift(level) };
      const nl = nextLevel(pte);
      if (nl === 0)
        return { present: true, ptePa: table + BigInt(idx * 8), pte, log2Size: levelShift(level) };
      if (nl === NEXT_LEVEL_LARGE) {
        const log2Size = largePageLog2(pte);
        const count = replicaCount(log2Size);
        return { present: true, ptePa: table + BigInt((idx & ~(count - 1)) * 8), pte, log2Size };
      }
      table = pte & PTE_ADDR_MASK;
      level = nl;
    }
  }

  /** Clears every leaf in [iova, iova+size) (whole pages); returns the bytes unmapped. */
  unmap(iova: bigint, size: bigint): bigint {
    let unmapped = 0n;
    this.#each(iova, size, (f) => {
      for (let i = 0; i < replicaCount(f.log2Size); i++) this.phys.writeU64(f.ptePa + BigInt(i * 8), 0n);
      unmapped += 1n << BigInt(f.log2Size);
    });
    return unmapped;
  }

  iovaToPhys(iova: bigint): bigint | undefined {
    const f = this.fetch(iova);
    if (!f.present) return undefined;
    return leafAddress(f.pte, f.log2Size) + (iova & ((1n << BigInt(f.log2Size)) - 1n));
  }

  /** iommu_v1_read_and_clear_dirty: a page is dirty if any of its replicas has HD set. */
  readAndClearDirty(
    iova: bigint,
    length: bigint,
    noClear: boolean,
    record: (iova: bigint, size: bigint) => void,
  ) {
    let cleared = false;
    this.#each(iova, length, (f, base) => {
      const count = replicaCount(f.log2Size);
      let dirty = false;
      for (let i = 0; i < count; i++) {
        const at = f.ptePa + BigInt(i * 8);
        const pte = this.phys.readU64(at);
        if (!(pte & PTE_HD)) continue;
        dirty = true;
        if (!noClear) this.phys.writeU64(at, pte & ~PTE_HD);
      }
      if (!dirty) return;
      record(base, 1n << BigInt(f.log2Size));
      cleared ||= !noClear;
    });
    return cleared;
  }

  #each(iova: bigint, length: bigint, visit: (f: Found & { present: true }, base: bigint) => void): void {
    const end = iova + length;
    let at = iova;
    while (at < end) {
      const f = this.fetch(at);
      const size = 1n << BigInt(f.log2Size);
      const base = at & ~(size - 1n);
      if (f.present) visit(f, base);
      at = base + size;
    }
  }
}
