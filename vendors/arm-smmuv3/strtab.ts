import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { prepField } from './bits.ts';
import type { Smmuv3Features } from './features.ts';
import {
  STRTAB_BASE_CFG_FMT_2LVL,
  STRTAB_BASE_CFG_FMT_LINEAR,
  STRTAB_BASE_CFG_FMT_SHIFT,
  STRTAB_BASE_CFG_SPLIT_SHIFT,
  STRTAB_BASE_RA,
} from './regs.ts';
import {
  encodeSte,
  STE_BYTES,
  STRTAB_L1_DESC_SPAN,
  STRTAB_SPLIT,
  STRTAB_STE_0_CFG_ABORT,
  STRTAB_STE_DWORDS,
} from './ste.ts';

/** `arm_smmu_make_abort_ste`: V=1, Config=abort. */
export const ABORT_STE: readonly bigint[] = encodeSte({ v: true, config: STRTAB_STE_0_CFG_ABORT });

function pagesFor(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 4096));
}

/**
 * The kernel's stream table (`arm_smmu_init_strtab`): linear when the SMMU has no 2-level
 * support, else an L1 table of descriptors, each pointing at an L2 table of 2^STRTAB_SPLIT STEs
 * allocated when a device with a StreamID in its span is probed. New STEs start as abort
 * (`arm_smmu_init_initial_stes` with disable_bypass).
 */
export class StreamTable {
  readonly base: bigint;
  readonly baseReg: bigint;
  readonly cfgReg: number;
  readonly twoLevel: boolean;
  readonly #l2 = new Map<number, bigint>();

  constructor(
    private readonly phys: PhysMemory,
    f: Smmuv3Features,
  ) {
    this.twoLevel = f.twoLevelStrtab;
    const log2 = f.sidBits;
    if (this.twoLevel) {
      const l1Ents = 2 ** Math.max(0, log2 - STRTAB_SPLIT);
      const pages = pagesFor(l1Ents * 8);
      this.base = phys.allocContiguous(pages, pages) << 12n;
      this.cfgReg =
        (STRTAB_BASE_CFG_FMT_2LVL << STRTAB_BASE_CFG_FMT_SHIFT) |
        (STRTAB_SPLIT << STRTAB_BASE_CFG_SPLIT_SHIFT) |
        log2;
    } else {
      const n = 2 ** log2;
      const pages = pagesFor(n * STE_BYTES);
      this.base = phys.allocContiguous(pages, pages) << 12n;
      this.cfgReg = (STRTAB_BASE_CFG_FMT_LINEAR << STRTAB_BASE_CFG_FMT_SHIFT) | log2;
      for (let sid = 0; sid < n; sid++) this.#initSte(this.base + BigInt(sid * STE_BYTES));
    }
    this.baseReg = this.base | STRTAB_BASE_RA;
  }

  #initSte(pa: bigint): void {
    for (let i = 0; i < STRTAB_STE_DWORDS; i++) this.phys.writeU64(pa + BigInt(i * 8), ABORT_STE[i]!);
  }

  /** `arm_smmu_init_l2_strtab` for `sid` (no-op for a linear table or an existing L2). */
  ensure(sid: number): void {
    if (!this.twoLevel) return;
    const l1 = Math.floor(sid / 2 ** STRTAB_SPLIT);
    if (this.#l2.has(l1)) return;
    const n = 2 ** STRTAB_SPLIT;
    const pages = pagesFor(n * STE_BYTES);
    this.phys.failNth.point('table', 'smmu.strtab_l2');
    const l2 = this.phys.allocContiguous(pages, pages) << 12n;
    for (let i = 0; i < n; i++) this.#initSte(l2 + BigInt(i * STE_BYTES));
    this.#l2.set(l1, l2);
    // The L1 descriptor was invalid, and invalid descriptors are not cached: no CFGI needed.
    this.phys.writeU64(this.base + BigInt(l1 * 8), prepField(STRTAB_L1_DESC_SPAN, STRTAB_SPLIT + 1) | l2);
  }

  /** The STE's physical address (`arm_smmu_get_step_for_sid`). */
  stePa(sid: number): bigint {
    if (!this.twoLevel) return this.base + BigInt(sid * STE_BYTES);
    const l2 = this.#l2.get(Math.floor(sid / 2 ** STRTAB_SPLIT));
    if (l2 === undefined) throw new RangeError(`arm-smmuv3: StreamID ${sid} was never probed`);
    return l2 + BigInt((sid % 2 ** STRTAB_SPLIT) * STE_BYTES);
  }
}
