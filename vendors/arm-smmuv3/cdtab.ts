import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { prepField } from './bits.ts';
import { CD_BYTES, CTXDESC_L1_DESC_V, CTXDESC_L2_ENTRIES } from './cd.ts';
import { STRTAB_STE_0_S1FMT_64K_L2, STRTAB_STE_0_S1FMT_LINEAR } from './ste.ts';

/**
 * A master's CD table (`arm_smmu_alloc_cd_tables`): linear for up to 1024 contexts, else an
 * L1 table whose leaves (1024 CDs, 64 KiB) are allocated when a SubstreamID first needs one.
 */
export class CdTable {
  readonly s1fmt: number;
  readonly s1cdmax: number;
  readonly base: bigint;
  /** PASIDs (SSID ≠ 0) with a valid CD: `cd_table.used_ssids`. */
  usedSsids = 0;
  readonly #pfns: Array<[bigint, number]> = [];
  readonly #l2 = new Map<number, bigint>();

  constructor(
    private readonly phys: PhysMemory,
    ssidBits: number,
    cd2l: boolean,
  ) {
    this.s1cdmax = ssidBits;
    const contexts = 2 ** ssidBits;
    if (!cd2l || contexts <= CTXDESC_L2_ENTRIES) {
      this.s1fmt = STRTAB_STE_0_S1FMT_LINEAR;
      this.base = this.#alloc(contexts * CD_BYTES);
    } else {
      this.s1fmt = STRTAB_STE_0_S1FMT_64K_L2;
      this.base = this.#alloc(Math.ceil(contexts / CTXDESC_L2_ENTRIES) * 8);
    }
  }

  #alloc(bytes: number): bigint {
    const pages = Math.max(1, Math.ceil(bytes / 4096));
    this.phys.failNth.point('table', 'smmu.cd_table');
    const pfn = this.phys.allocContiguous(pages, pages);
    this.#pfns.push([pfn, pages]);
    return pfn << 12n;
  }

  /**
   * The CD's address for `ssid` (`arm_smmu_get_cd_ptr`), allocating its leaf if `alloc`.
   * `newLeaf` is set when an L1 descriptor was just made valid: Linux then issues CFGI_CD with
   * Leaf=0, because an invalid L1CD may have been cached.
   */
  cdPtr(ssid: number, alloc: boolean): { pa: bigint; newLeaf: boolean } | undefined {
    if (this.s1fmt === STRTAB_STE_0_S1FMT_LINEAR)
      return { pa: this.base + BigInt(ssid * CD_BYTES), newLeaf: false };
    const idx = Math.floor(ssid / CTXDESC_L2_ENTRIES);
    let l2 = this.#l2.get(idx);
    let newLeaf = false;
    if (l2 === undefined) {
      if (!alloc) return undefined;
      l2 = this.#alloc(CTXDESC_L2_ENTRIES * CD_BYTES);
      this.#l2.set(idx, l2);
      this.phys.writeU64(this.base + BigInt(idx * 8), l2 | prepField(CTXDESC_L1_DESC_V, 1));
      newLeaf = true;
    }
    return { pa: l2 + BigInt((ssid % CTXDESC_L2_ENTRIES) * CD_BYTES), newLeaf };
  }

  free(): void {
    for (const [pfn, pages] of this.#pfns) for (let i = 0; i < pages; i++) this.phys.put(pfn + BigInt(i));
    this.#pfns.length = 0;
    this.#l2.clear();
  }
}
