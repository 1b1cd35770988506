import { fail } from '../../actors/iommufd/errno.ts';
import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { IOMMU_READ, IOMMU_WRITE } from '../driver.ts';
import {
  FS_A,
  FS_D,
  FS_P,
  FS_PS,
  FS_RW,
  FS_US,
  levelIndex,
  levelSize,
  PTE_ADDR_MASK,
  type PtFormat,
  SS_D,
  SS_PS,
  SS_R,
  SS_W,
} from './pte.ts';

/** What one unmap cleared: the exact range (superpages widen it) and table pages to free after the flush. */
export interface UnmapResult {
  readonly unmapped: bigint;
  readonly freed: bigint[];
}

/**
 * The driver's page table (`domain->pgd` and `__domain_mapping` / `dma_pte_clear_level`),
 * written in memory in the second-stage or first-stage format. Non-leaf entries carry R|W (and
 * for first stage U/S|A, as Linux writes them); first-stage leaves are written with A, and D
 * when writable, so the hardware never needs to update them.
 */
export class IoPageTable {
  readonly root: bigint;
  /** Table pages by PA, for `free()`. */
  readonly #pages = new Set<bigint>();

  constructor(
    private readonly phys: PhysMemory,
    readonly format: PtFormat,
    readonly levels: number,
    /** Largest leaf level allowed (1: 4K only, 2: +2M, 3: +1G). */
    readonly maxLeafLevel: number,
  ) {
    this.root = this.#allocTable();
  }

  get tablePages(): number {
    return this.#pages.size;
  }

  /**
   * Maps a physically contiguous run, choosing the largest leaf that alignment and length allow.
   * A superpage over a table left by earlier small mappings replaces it (`switch_to_super_page`):
   * the table pages are unlinked and returned; the caller frees them only after a flush without
   * IH, so no paging-structure cache can walk into a reused page. On failure nothing is mapped.
   */
  map(iova: bigint, pa: bigint, size: bigint, prot: number): bigint[] {
    const freed: bigint[] = [];
    const written: Array<[bigint, bigint]> = [];
    let done = 0n;
    try {
      while (done < size) {
        const at = iova + done;
        const to = pa + done;
        let level = this.maxLeafLevel;
        while (level > 1 && ((at | to) & (levelSize(level) - 1n) || size - done < levelSize(level))) level--;
        const ptePa = this.#walkAlloc(at, level);
        const old = this.phys.readU64(ptePa);
        if (this.#present(old)) {
          const table = level > 1 && (old & this.#psBit()) === 0n;
          // A live leaf below is a real overlap: Linux's "DMA PTE already set".
          if (!table || this.#collect(old & PTE_ADDR_MASK, level - 1, []) !== 0n)
            fail('EBUSY', `DMA PTE for 0x${at.toString(16)} already set`);
          this.#collect(old & PTE_ADDR_MASK, level - 1, freed);
        }
        written.push([ptePa, old]);
        this.phys.writeU64(ptePa, this.#leaf(to, prot, level));
        done += levelSize(level);
      }
    } catch (err) {
      // Nothing has walked these entries yet (map never yields): put the old ones back.
      for (const [ptePa, old] of written.reverse()) this.phys.writeU64(ptePa, old);
      throw err;
    }
    for (const t of freed) this.#pages.delete(t);
    return freed;
  }

  /**
   * Clears every leaf in [iova, iova+size) (a superpage the range touches goes whole), and
   * unlinks table pages whose whole span is inside the range; the caller frees them after the
   * IOTLB flush.
   */
  unmap(iova: bigint, size: bigint): UnmapResult {
    const freed: bigint[] = [];
    let unmapped = 0n;
    const last = iova + size - 1n;
    const clear = (table: bigint, level: number, base: bigint): void => {
      const span = levelSize(level);
      let i = levelIndex(base > iova ? base : iova, level);
      for (; i < 512; i++) {
        const start = base + BigInt(i) * span;
        if (start > last) break;
        const ptePa = table + BigInt(i * 8);
        const pte = this.phys.readU64(ptePa);
        if (!this.#present(pte)) continue;
        const leaf = level === 1 || (pte & this.#psBit()) !== 0n;
        const covered = start >= iova && start + span - 1n <= last;
        if (leaf || covered) {
          unmapped += leaf ? span : this.#collect(pte & PTE_ADDR_MASK, level - 1, freed);
          this.phys.writeU64(ptePa, 0n);
        } else clear(pte & PTE_ADDR_MASK, level - 1, start);
      }
    };
    clear(this.root, this.levels, 0n);
    for (const pa of freed) this.#pages.delete(pa);
    return { unmapped, freed };
  }

  /** `iova_to_phys`: the CPU's walk of the same table. */
  iovaToPhys(iova: bigint): bigint | undefined {
    const found = this.lookup(iova);
    return found ? (found.pte & PTE_ADDR_MASK & ~(found.size - 1n)) + (iova & (found.size - 1n)) : undefined;
  }

  /**
   * `pfn_to_dma_pte(.., level 0)`: the size of the entry the walk for `iova` stops at (a leaf, or
   * the first non-present entry), which widens an unmap as in `intel_iommu_unmap`.
   */
  stopSize(iova: bigint): bigint {
    let table = this.root;
    for (let level = this.levels; level >= 1; level--) {
      const pte = this.phys.readU64(table + BigInt(levelIndex(iova, level) * 8));
      if (!this.#present(pte) || level === 1 || pte & this.#psBit()) return levelSize(level);
      table = pte & PTE_ADDR_MASK;
    }
    return 4096n;
  }

  /** The leaf covering `iova`: its PTE value, address and page size. */
  lookup(iova: bigint): { pte: bigint; ptePa: bigint; size: bigint } | undefined {
    let table = this.root;
    for (let level = this.levels; level >= 1; level--) {
      const ptePa = table + BigInt(levelIndex(iova, level) * 8);
      const pte = this.phys.readU64(ptePa);
      if (!this.#present(pte)) return undefined;
      if (level === 1 || pte & this.#psBit()) return { pte, ptePa, size: levelSize(level) };
      table = pte & PTE_ADDR_MASK;
    }
    return undefined;
  }

  /**
   * `intel_iommu_read_and_clear_dirty`: reports each dirty second-stage leaf in the range,
   * clearing D unless `noClear`. Returns whether any D bit was cleared (the IOTLB needs a flush).
   */
  readAndClearDirty(
    iova: bigint,
    length: bigint,
    noClear: boolean,
    record: (iova: bigint, size: bigint) => void,
  ) {
    let cleared = false;
    const end = iova + length;
    let at = iova;
    while (at < end) {
      const found = this.lookup(at);
      const size = found?.size ?? 4096n;
      const base = at & ~(size - 1n);
      if (found && found.pte & SS_D) {
        record(base, size);
        if (!noClear) {
          this.phys.writeU64(found.ptePa, found.pte & ~SS_D);
          cleared = true;
        }
      }
      at = base + size;
    }
    return cleared;
  }

  /** Frees every table page (the domain is gone and nothing points here any more). */
  free(): void {
    for (const pa of this.#pages) this.phys.put(pa >> 12n);
    this.#pages.clear();
  }

  #psBit(): bigint {
    return this.format === 'ss' ? SS_PS : FS_PS;
  }

  #present(pte: bigint): boolean {
    return this.format === 'ss' ? (pte & (SS_R | SS_W)) !== 0n : (pte & FS_P) !== 0n;
  }

  #leaf(pa: bigint, prot: number, level: number): bigint {
    const ps = level > 1 ? this.#psBit() : 0n;
    if (this.format === 'ss') {
      return pa | ps | (prot & IOMMU_READ ? SS_R : 0n) | (prot & IOMMU_WRITE ? SS_W : 0n);
    }
    return pa | ps | FS_P | FS_US | FS_A | (prot & IOMMU_WRITE ? FS_RW | FS_D : 0n);
  }

  #nonLeaf(table: bigint): bigint {
    return this.format === 'ss' ? table | SS_R | SS_W : table | FS_P | FS_RW | FS_US | FS_A;
  }

  /** The PTE slot for `iova` at `level`, allocating intermediate tables (`pfn_to_dma_pte`). */
  #walkAlloc(iova: bigint, level: number): bigint {
    let table = this.root;
    for (let l = this.levels; l > level; l--) {
      const ptePa = table + BigInt(levelIndex(iova, l) * 8);
      let pte = this.phys.readU64(ptePa);
      if (!this.#present(pte)) {
        pte = this.#nonLeaf(this.#allocTable());
        this.phys.writeU64(ptePa, pte);
      } else if (pte & this.#psBit()) {
        fail('EBUSY', `0x${iova.toString(16)} is inside a superpage`);
      }
      table = pte & PTE_ADDR_MASK;
    }
    return table + BigInt(levelIndex(iova, level) * 8);
  }

  /** Queues `table` and its subtables for freeing; returns the bytes its leaves mapped. */
  #collect(table: bigint, level: number, out: bigint[]): bigint {
    let bytes = 0n;
    for (let i = 0; i < 512; i++) {
      const pte = this.phys.readU64(table + BigInt(i * 8));
      if (!this.#present(pte)) continue;
      if (level > 1 && !(pte & this.#psBit())) bytes += this.#collect(pte & PTE_ADDR_MASK, level - 1, out);
      else bytes += levelSize(level);
    }
    out.push(table);
    return bytes;
  }

  #allocTable(): bigint {
    this.phys.failNth.point('table', 'vtd.pgtable');
    const pa = this.phys.allocPage() << 12n;
    this.#pages.add(pa);
    return pa;
  }
}
