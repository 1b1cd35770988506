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

  /** Maps one page of 2^log2Size bytes (12, 21 or 30). Read is implied by present. */
  mapPage(iova: bigint, pa: bigint, log2Size: number, write: boolean): void {
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
      if (pte & V2_PS) throw new Error(`v2 map over a live page at 0x${iova.toString(16)}`);
      table = pte & V2_ADDR_MASK;
    }
    const at = table + BigInt(indexOf(target, iova) * 8);
    const old = this.phys.readU64(at);
    if (old & V2_PRESENT) throw new Error(`v2 map over a live entry at 0x${iova.toString(16)}`);
    this.phys.writeU64(at, encodeV2Leaf(pa, target, write));
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
