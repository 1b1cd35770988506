import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import {
  largePageLog2,
  leafAddress,
  levelIndex,
  levelShift,
  NEXT_LEVEL_LARGE,
  nextLevel,
  PTE_ADDR_MASK,
  PTE_IR,
  PTE_IW,
  PTE_PR,
} from './v1-pte.ts';

/** A leaf found by the walk; permissions are the AND of IR/IW over every level. */
export interface V1Leaf {
  readonly ok: true;
  /** Physical address of the page (aligned to its size). */
  readonly pa: bigint;
  readonly log2Size: number;
  readonly read: boolean;
  readonly write: boolean;
  /** Where the leaf PTE lives, for the A/D updates. */
  readonly ptePa: bigint;
}

/**
 * Why a walk stopped: `range` (the IOVA is beyond what `mode` levels translate), `not-present`
 * (PR=0, or non-zero IOVA bits of a skipped level): both IO_PAGE_FAULT; `reserved` (an illegal NextLevel or page size: IO_PAGE_FAULT with RZ),
 * `hw-error` (the table is not in memory: PAGE_TAB_HW_ERROR).
 */
export interface V1Miss {
  readonly ok: false;
  readonly kind: 'range' | 'not-present' | 'reserved' | 'hw-error';
  readonly level: number;
  /** The PA the walk failed to read (hw-error). */
  readonly at?: bigint;
}

export type V1WalkResult = V1Leaf | V1Miss;

/** The hardware walk of a host (v1) table of `mode` levels rooted at `root`, read from memory. */
export function walkV1(phys: PhysMemory, root: bigint, mode: number, iova: bigint): V1WalkResult {
  const top = levelShift(mode) + 9;
  if (top < 64 && iova >> BigInt(top) !== 0n) return { ok: false, kind: 'range', level: mode };
  let table = root & PTE_ADDR_MASK;
  let level = mode;
  let read = true;
  let write = true;
  for (;;) {
    const ptePa = table + BigInt(levelIndex(level, iova) * 8);
    let pte: bigint;
    try {
      pte = phys.readU64(ptePa);
    } catch {
      return { ok: false, kind: 'hw-error', level, at: ptePa };
    }
    if (!(pte & PTE_PR)) return { ok: false, kind: 'not-present', level };
    read &&= (pte & PTE_IR) !== 0n;
    write &&= (pte & PTE_IW) !== 0n;
    const next = nextLevel(pte);
    if (next === 0 || next === NEXT_LEVEL_LARGE) {
      const shift = levelShift(level);
      const log2Size = next === 0 ? shift : largePageLog2(pte);
      // A NextLevel-7 page must be larger than one entry and smaller than the level above.
      if (next === NEXT_LEVEL_LARGE && (log2Size <= shift || log2Size >= shift + 9)) {
        return { ok: false, kind: 'reserved', level };
      }
      return { ok: true, pa: leafAddress(pte, log2Size), log2Size, read, write, ptePa };
    }
    if (next >= level) return { ok: false, kind: 'reserved', level };
    // Skipped levels translate only IOVAs whose index bits there are zero.
    for (let l = next + 1; l < level; l++) {
      if (levelIndex(l, iova) !== 0) return { ok: false, kind: 'not-present', level: l };
    }
    table = pte & PTE_ADDR_MASK;
    level = next;
  }
}
