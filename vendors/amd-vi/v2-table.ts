import { fail } from '../../actors/iommufd/errno.ts';
import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { TablePages } from './table-pages.ts';
import { encodeV2Leaf, encodeV2Pde, V2_ADDR_MASK, V2_PRESENT, V2_PS } from './v2-pte.ts';

type Found =
  | { present: true; ptePa: bigint; pte: bigint; log2Size: number }
  | { present: false; log2Size: number };

const shiftOf = (level: number) => 12 + 9 * (level - 1);
const indexOf = (level: number, iova: bigint) => Number((iova >> BigInt(shiftOf(level))) & 0x1ffn);

/**
 * The kernel's side of a v2 (x86-64 format) page table (io_pgtable_v2.c): 4 or 5 levels,
 * 4 KiB, 2 MiB and 1 GiB pages. Used for PASID-capable domains, reached through the GCR3 table.
 */
export class V2PageTable {
  readonly root: bigint;
  readonly #tables: TablePages;

  constructor(
    private readonly phys: PhysMemory,
    readonly levels: number,
  ) {
    this.#tables = new TablePages(phys);
    this.root = this.#tables.alloc();
  }

  get pages(): number {
    return this.#tables.count;
  }

  destroy(): void {
    this.#tables.releaseAll();
  }

  /**
   * Maps one page of 2^log2Size bytes (12, 21 or 30). Read is implied by present. A large page
   * over a table left by earlier small mappings replaces it (v2_alloc_pte's tear-down); the
   * unlinked table pages are returned for the caller to free after its flush. A live page in the
   * way is an overlap the core never asks for: EEXIST, nothing written.
   */
  mapPage(iova: bigint, pa: bigint, log2Size: number, write: boolean): bigint[] {
    const target = (log2Size - 12) / 9 + 1;
    let table = this.root;
    for (let level = this.levels; level > target; level--) {
      const at = table + BigInt(indexOf(level, iova) * 8);
      const pte = this.phys.readU64(at);
      if (!(pte & V2_PRESENT)) {
        const next = this.#tables.alloc();
        this.phys.writeU64(at, encodeV2Pde(next));
        table = next;
        continue;
      }
      if (pte & V2_PS) fail('EEXIST', `v2 map over a live page at 0x${iova.toString(16)}`);
      table = pte & V2_ADDR_MASK;
    }
    const at = table + BigInt(indexOf(target, iova) * 8);
    const old = this.phys.readU64(at);
    const freed: bigint[] = [];
    if (old & V2_PRESENT) {
      if (target === 1 || old & V2_PS || this.#maps(old & V2_ADDR_MASK, target - 1))
        fail('EEXIST', `v2 map over a live entry at 0x${iova.toString(16)}`);
      this.#collect(old & V2_ADDR_MASK, target - 1, freed);
    }
    this.phys.writeU64(at, encodeV2Leaf(pa, target, write));
    return freed;
  }

  /** Returns table pages a map unlinked, once the flush that follows it is done. */
  release(tables: readonly bigint[]): void {
    this.#tables.release(tables);
  }

  /** Whether a subtree at `level` still maps anything. */
  #maps(table: bigint, level: number): boolean {
    for (let i = 0; i < 512; i++) {
      const pte = this.phys.readU64(table + BigInt(i * 8));
      if (!(pte & V2_PRESENT)) continue;
      if (level === 1 || pte & V2_PS || this.#maps(pte & V2_ADDR_MASK, level - 1)) return true;
    }
    return false;
  }

  #collect(table: bigint, level: number, out: bigint[]): void {
    out.push(table);
    if (level === 1) return;
    for (let i = 0; i < 512; i++) {
      const pte = this.phys.readU64(table + BigInt(i * 8));
      if (pte & V2_PRESENT && !(pte & V2_PS)) this.#collect(pte & V2_ADDR_MASK, level - 1, out);
    }
  }

  fetch(iova: bigint): Found {
    let table = this.root;
    for (let level = this.levels; level >= 1; level--) {
      const ptePa = table + BigInt(indexOf(level, iova) * 8);
      const pte = this.phys.readU64(ptePa);
      if (!(pte & V2_PRESENT)) return { present: false, log2Size: shiftOf(level) };
      if (level === 1 || pte & V2_PS) return { present: true, ptePa, pte, log2Size: shiftOf(level) };
      table = pte & V2_ADDR_MASK;
    }
    return { present: false, log2Size: 12 };
  }

  unmap(iova: bigint, size: bigint): bigint {
    const end = iova + size;
    let at = iova;
    let unmapped = 0n;
    while (at < end) {
      const f = this.fetch(at);
      const bytes = 1n << BigInt(f.log2Size);
      const base = at & ~(bytes - 1n);
      if (f.present) {
        this.phys.writeU64(f.ptePa, 0n);
        unmapped += bytes;
      }
      at = base + bytes;
    }
    return unmapped;
  }

  iovaToPhys(iova: bigint): bigint | undefined {
    const f = this.fetch(iova);
    if (!f.present) return undefined;
    const mask = (1n << BigInt(f.log2Size)) - 1n;
    return (f.pte & V2_ADDR_MASK & ~mask) + (iova & mask);
  }
}
