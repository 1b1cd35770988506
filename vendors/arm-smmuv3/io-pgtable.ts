import { fail, SimulatorBug } from '../../actors/iommufd/errno.ts';
import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { IOMMU_READ, IOMMU_WRITE } from '../driver.ts';
import {
  ARM_LPAE_MAIR_ATTR_IDX_CACHE,
  ARM_LPAE_OA_MASK,
  ARM_LPAE_PTE_AF,
  ARM_LPAE_PTE_AP_RDONLY,
  ARM_LPAE_PTE_AP_UNPRIV,
  ARM_LPAE_PTE_ATTRINDX_SHIFT,
  ARM_LPAE_PTE_DBM,
  ARM_LPAE_PTE_HAP_READ,
  ARM_LPAE_PTE_HAP_WRITE,
  ARM_LPAE_PTE_MEMATTR_OIWB,
  ARM_LPAE_PTE_nG,
  ARM_LPAE_PTE_SH_IS,
  ARM_LPAE_PTE_TYPE_BLOCK,
  ARM_LPAE_PTE_TYPE_MASK,
  ARM_LPAE_PTE_TYPE_PAGE,
  ARM_LPAE_PTE_TYPE_TABLE,
  blockSize,
  levelShift,
  startLevelFor,
} from './lpae.ts';

/** One step of an unmap, in the order io-pgtable-arm meets them. */
export type UnmapStep =
  | { readonly kind: 'leaf'; readonly iova: bigint; readonly size: bigint }
  /** A whole table was cleared: flush walks for its range, then free its pages. */
  | {
      readonly kind: 'table';
      readonly iova: bigint;
      readonly size: bigint;
      readonly pfns: readonly bigint[];
    };

const SIZES = [1n << 30n, 1n << 21n, 1n << 12n] as const;
const LEVEL_OF = new Map<bigint, number>([
  [1n << 30n, 1],
  [1n << 21n, 2],
  [1n << 12n, 3],
]);

/**
 * The kernel's io-pgtable-arm for one domain (ARM_64_LPAE_S1 or _S2, 4K granule): writes
 * descriptors into physical memory. Nothing here touches the IOMMU's caches; the domain issues
 * the invalidations an unmap needs.
 */
export class IoPgtable {
  readonly root: bigint;
  readonly startLevel: number;
  readonly #tablePfns = new Set<bigint>();

  constructor(
    private readonly phys: PhysMemory,
    readonly stage: 1 | 2,
    readonly ias: number,
    /** IO_PGTABLE_QUIRK_ARM_HD: writable leaves get DBM and start dirty. */
    readonly hd: boolean,
  ) {
    this.startLevel = startLevelFor(ias);
    this.root = this.#allocTable();
  }

  get tablePages(): number {
    return this.#tablePfns.size;
  }

  #allocTable(): bigint {
    this.phys.failNth.point('table', 'smmu.io_pgtable');
    const pfn = this.phys.allocPage();
    this.#tablePfns.add(pfn);
    return pfn << 12n;
  }

  #read(table: bigint, index: bigint): bigint {
    return this.phys.readU64(table + index * 8n);
  }

  #write(table: bigint, index: bigint, value: bigint): void {
    this.phys.writeU64(table + index * 8n, value);
  }

  #index(iova: bigint, level: number): bigint {
    const bits = level === this.startLevel ? BigInt(this.ias) - levelShift(level) : 9n;
    return (iova >> levelShift(level)) & ((1n << bits) - 1n);
  }

  /** `arm_lpae_prot_to_pte` + `__arm_lpae_init_pte`. */
  #leafPte(pa: bigint, level: number, prot: number): bigint {
    let pte = pa | ARM_LPAE_PTE_AF | ARM_LPAE_PTE_SH_IS;
    pte |= level === 3 ? ARM_LPAE_PTE_TYPE_PAGE : ARM_LPAE_PTE_TYPE_BLOCK;
    if (this.stage === 1) {
      pte |= ARM_LPAE_PTE_nG | ARM_LPAE_PTE_AP_UNPRIV;
      pte |= ARM_LPAE_MAIR_ATTR_IDX_CACHE << ARM_LPAE_PTE_ATTRINDX_SHIFT;
      if (!(prot & IOMMU_WRITE) && prot & IOMMU_READ) pte |= ARM_LPAE_PTE_AP_RDONLY;
      else if (this.hd) pte |= ARM_LPAE_PTE_DBM;
    } else {
      pte |= ARM_LPAE_PTE_MEMATTR_OIWB;
      if (prot & IOMMU_READ) pte |= ARM_LPAE_PTE_HAP_READ;
      if (prot & IOMMU_WRITE) pte |= ARM_LPAE_PTE_HAP_WRITE;
    }
    return pte;
  }

  /**
   * `map_pages`: largest pages alignment allows; all or nothing. A mapping with neither read nor
   * write is EINVAL (commit 6093cd582f8e: it used to succeed without writing, which spun
   * `__iommu_map` forever). A block over a table left by earlier page mappings replaces it, as
   * `arm_lpae_init_pte` does; the replaced tables are returned as steps for the caller to flush
   * (walk flush) and only then free.
   */
  map(iova: bigint, pa: bigint, size: bigint, prot: number): UnmapStep[] {
    if ((iova | pa | size) & 0xfffn || size <= 0n)
      throw new SimulatorBug(`map misaligned 0x${iova.toString(16)}`);
    if (!(prot & (IOMMU_READ | IOMMU_WRITE))) fail('EINVAL', 'mapping with neither read nor write');
    if ((iova + size - 1n) >> BigInt(this.ias) !== 0n) fail('EINVAL', 'IOVA beyond the input address size');
    const written: Array<[bigint, bigint, bigint, bigint]> = [];
    const replaced: UnmapStep[] = [];
    try {
      let done = 0n;
      while (done < size) {
        const at = iova + done;
        const to = pa + done;
        let placed = 0n;
        for (const s of SIZES) {
          if (at % s !== 0n || to % s !== 0n || size - done < s) continue;
          const slot = this.#installLeaf(at, to, LEVEL_OF.get(s)!, prot, replaced);
          written.push(slot);
          placed = s;
          break;
        }
        if (placed === 0n) throw new SimulatorBug('no page size fits');
        done += placed;
      }
    } catch (err) {
      // Nothing could have used these PTEs yet (map runs without yielding): put back what was there.
      for (const [table, index, , old] of written.reverse()) this.#write(table, index, old);
      throw err;
    }
    return replaced;
  }

  #installLeaf(
    iova: bigint,
    pa: bigint,
    target: number,
    prot: number,
    replaced: UnmapStep[],
  ): [bigint, bigint, bigint, bigint] {
    let table = this.root;
    for (let level = this.startLevel; level < target; level++) {
      const index = this.#index(iova, level);
      const pte = this.#read(table, index);
      if ((pte & 1n) === 0n) {
        const next = this.#allocTable();
        this.#write(table, index, next | ARM_LPAE_PTE_TYPE_TABLE);
        table = next;
      } else if ((pte & ARM_LPAE_PTE_TYPE_MASK) === ARM_LPAE_PTE_TYPE_TABLE) {
        table = pte & ARM_LPAE_OA_MASK;
      } else fail('EEXIST', `IOVA 0x${iova.toString(16)} is inside a mapped block`);
    }
    const index = this.#index(iova, target);
    const pte = this.#read(table, index);
    if (pte & 1n) {
      const isTable = target < 3 && (pte & ARM_LPAE_PTE_TYPE_MASK) === ARM_LPAE_PTE_TYPE_TABLE;
      if (!isTable || this.#hasLeaf(pte & ARM_LPAE_OA_MASK, target + 1))
        fail('EEXIST', `IOVA 0x${iova.toString(16)} is already mapped`);
      const size = blockSize(target);
      replaced.push({ kind: 'table', iova, size, pfns: this.#collect(pte & ARM_LPAE_OA_MASK, target + 1) });
    }
    const value = this.#leafPte(pa, target, prot);
    this.#write(table, index, value);
    return [table, index, value, pte];
  }

  /** Whether a subtree still maps anything. */
  #hasLeaf(table: bigint, level: number): boolean {
    for (let i = 0n; i < 512n; i++) {
      const pte = this.#read(table, i);
      if ((pte & 1n) === 0n) continue;
      if (level === 3 || (pte & ARM_LPAE_PTE_TYPE_MASK) !== ARM_LPAE_PTE_TYPE_TABLE) return true;
      if (this.#hasLeaf(pte & ARM_LPAE_OA_MASK, level + 1)) return true;
    }
    return false;
  }

  /** The leaf covering `iova`: its table slot, descriptor, level and block base. */
  #find(
    iova: bigint,
  ): { table: bigint; index: bigint; pte: bigint; level: number; base: bigint } | undefined {
    if (iova >> BigInt(this.ias) !== 0n) return undefined;
    let table = this.root;
    for (let level = this.startLevel; level <= 3; level++) {
      const index = this.#index(iova, level);
      const pte = this.#read(table, index);
      if ((pte & 1n) === 0n) return undefined;
      if (level < 3 && (pte & ARM_LPAE_PTE_TYPE_MASK) === ARM_LPAE_PTE_TYPE_TABLE) {
        table = pte & ARM_LPAE_OA_MASK;
        continue;
      }
      const size = blockSize(level);
      return { table, index, pte, level, base: iova & ~(size - 1n) };
    }
    return undefined;
  }

  iovaToPhys(iova: bigint): bigint | undefined {
    const leaf = this.#find(iova);
    if (!leaf) return undefined;
    const size = blockSize(leaf.level);
    return (leaf.pte & ARM_LPAE_OA_MASK & ~(size - 1n)) + (iova & (size - 1n));
  }

  /**
   * `__arm_lpae_unmap` over [iova, iova+size): clears leaves and whole tables the range covers,
   * returning the steps for the TLB flushes. Table pages are not freed here: the caller frees
   * them after the walk flush, as io-pgtable does.
   */
  unmap(iova: bigint, size: bigint): UnmapStep[] {
    const steps: UnmapStep[] = [];
    const end = iova + size;
    let at = iova;
    while (at < end) at = this.#unmapAt(at, end, steps);
    return steps;
  }

  #unmapAt(at: bigint, end: bigint, steps: UnmapStep[]): bigint {
    let table = this.root;
    for (let level = this.startLevel; level <= 3; level++) {
      const index = this.#index(at, level);
      const pte = this.#read(table, index);
      const span = blockSize(level);
      const base = at & ~(span - 1n);
      if ((pte & 1n) === 0n) return base + span;
      const isTable = level < 3 && (pte & ARM_LPAE_PTE_TYPE_MASK) === ARM_LPAE_PTE_TYPE_TABLE;
      const covered = base >= at && base + span <= end;
      if (isTable && !covered) {
        table = pte & ARM_LPAE_OA_MASK;
        continue;
      }
      if (!covered) return base + span; // a block only partly inside the range: io-pgtable refuses too
      this.#write(table, index, 0n);
      if (isTable) {
        const pfns = this.#collect(pte & ARM_LPAE_OA_MASK, level + 1);
        steps.push({ kind: 'table', iova: base, size: span, pfns });
      } else steps.push({ kind: 'leaf', iova: base, size: span });
      return base + span;
    }
    throw new SimulatorBug('unreachable');
  }

  /** Every table page of a subtree, leaves first order irrelevant. */
  #collect(table: bigint, level: number): bigint[] {
    const out = [table >> 12n];
    if (level < 3) {
      for (let i = 0n; i < 512n; i++) {
        const pte = this.#read(table, i);
        if ((pte & ARM_LPAE_PTE_TYPE_MASK) === ARM_LPAE_PTE_TYPE_TABLE)
          out.push(...this.#collect(pte & ARM_LPAE_OA_MASK, level + 1));
      }
    }
    return out;
  }

  /** Gives back table pages the caller collected from an unmap (after its walk flush). */
  freeTables(pfns: readonly bigint[]): void {
    for (const pfn of pfns) {
      if (this.#tablePfns.delete(pfn)) this.phys.put(pfn);
    }
  }

  /** Frees every table page: the domain is gone and its ASID/VMID flushed. */
  freeAll(): void {
    this.freeTables([...this.#tablePfns]);
  }

  /**
   * `arm_lpae_read_and_clear_dirty`: a writable-dirty leaf (DBM set, AP_RDONLY clear) is
   * reported whole; unless `noClear` it becomes writable-clean again (AP_RDONLY set).
   */
  readAndClearDirty(
    iova: bigint,
    size: bigint,
    noClear: boolean,
    record: (iova: bigint, size: bigint) => void,
  ) {
    const end = iova + size;
    let at = iova;
    while (at < end) {
      const leaf = this.#find(at);
      if (!leaf) {
        at = (at & ~0xfffn) + 0x1000n;
        continue;
      }
      const span = blockSize(leaf.level);
      const dirty = (leaf.pte & (ARM_LPAE_PTE_DBM | ARM_LPAE_PTE_AP_RDONLY)) === ARM_LPAE_PTE_DBM;
      if (dirty) {
        record(leaf.base, span);
        if (!noClear) this.#write(leaf.table, leaf.index, leaf.pte | ARM_LPAE_PTE_AP_RDONLY);
      }
      at = leaf.base + span;
    }
  }
}
