import { PhysAccessError } from '../../actors/mem/phys-memory.ts';
import { FR } from './fault-reasons.ts';
import {
  awLevels,
  awWidth,
  FS_A,
  FS_D,
  FS_P,
  FS_PS,
  FS_RW,
  FS_US,
  FS_XD,
  levelIndex,
  levelShift,
  PTE_ABOVE_HAW,
  PTE_ADDR_MASK,
  SS_A,
  SS_D,
  SS_LEAF_ONLY,
  SS_PS,
  SS_R,
  SS_W,
} from './pte.ts';

/** Memory as the walker sees it: physical reads, and writes for A/D updates. */
export interface WalkMem {
  readU64(pa: bigint): bigint;
  writeU64(pa: bigint, value: bigint): void;
}

/** A leaf found by a walk: the page it maps and the permissions accumulated on the way down. */
export interface Leaf {
  /** Output address of the page start. */
  readonly pa: bigint;
  readonly size: bigint;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
  /** First stage: U/S set at every level. */
  readonly user: boolean;
  /** Where the leaf lives (for a later D-bit update from an IOTLB hit). */
  readonly ptePa: bigint;
  readonly dirty: boolean;
}

/** A walk either finds a leaf or stops with a fault reason. */
export type PtWalk = Leaf | number;

export interface SsWalkOpts {
  /** PASID-entry AW. */
  readonly aw: number;
  readonly ssade: boolean;
  /** CAP.SLLPS. */
  readonly sllps: number;
}

function read(mem: WalkMem, pa: bigint): bigint | undefined {
  try {
    return mem.readU64(pa);
  } catch (err) {
    if (err instanceof PhysAccessError) return undefined;
    throw err;
  }
}

/**
 * The second-stage walk from `root` (SSPTPTR). R=W=0 at any level is "not present" (0x79);
 * permissions are the AND over levels, checked by the caller. With SSADE the walk sets A at
 * every level and D in the leaf of a write.
 */
export function walkSecondStage(
  mem: WalkMem,
  root: bigint,
  iova: bigint,
  write: boolean,
  o: SsWalkOpts,
): PtWalk {
  if (iova >> BigInt(awWidth(o.aw)) !== 0n) return FR.BEYOND_MAX;
  let table = root;
  let r = true;
  let w = true;
  let x = true;
  for (let level = awLevels(o.aw); level >= 1; level--) {
    const ptePa = table + BigInt(levelIndex(iova, level) * 8);
    const pte = read(mem, ptePa);
    if (pte === undefined) return FR.SS_ACCESS;
    if ((pte & (SS_R | SS_W)) === 0n) return FR.SS_RW;
    const ps = level > 1 && (pte & SS_PS) !== 0n;
    const leaf = level === 1 || ps;
    if (pte & PTE_ABOVE_HAW) return FR.SS_RSVD;
    if (ps && !((level === 2 && o.sllps & 1) || (level === 3 && o.sllps & 2))) return FR.SS_RSVD;
    if (!leaf && pte & SS_LEAF_ONLY) return FR.SS_RSVD;
    const size = 1n << levelShift(level);
    if (ps && pte & PTE_ADDR_MASK & (size - 1n)) return FR.SS_RSVD;
    r &&= (pte & SS_R) !== 0n;
    w &&= (pte & SS_W) !== 0n;
    x &&= (pte & 4n) !== 0n;
    let v = pte;
    if (o.ssade && !(v & SS_A)) v |= SS_A;
    if (leaf && o.ssade && write && w && !(v & SS_D)) v |= SS_D;
    if (v !== pte) mem.writeU64(ptePa, v);
    if (leaf) {
      return {
        pa: v & PTE_ADDR_MASK & ~(size - 1n),
        size,
        read: r,
        write: w,
        exec: x,
        user: true,
        ptePa,
        dirty: (v & SS_D) !== 0n,
      };
    }
    table = pte & PTE_ADDR_MASK;
  }
  throw new Error('unreachable: second-stage walk ran out of levels');
}

export interface FsWalkOpts {
  /** 4 or 5 (PASID-entry FLPM 0 / 1). */
  readonly levels: number;
  readonly nxe: boolean;
  readonly fs1gp: boolean;
  /**
   * Turns a table address (a GPA when nested) into where to read it; a number is a fault.
   * `write` asks for an A/D update of the entry at that address.
   */
  readonly xlate?: (addr: bigint, write: boolean, top: boolean) => bigint | number;
}

/** Canonical for `levels`-level paging: the bits above the top index sign-extend it. */
export function isCanonical(iova: bigint, levels: number): boolean {
  const top = BigInt(12 + 9 * levels - 1);
  const upper = iova >> top;
  return upper === 0n || upper === (1n << (64n - top)) - 1n;
}

/**
 * The first-stage (x86-64) walk from FSPTPTR. P=0 is 0x71; PS at the top level, or a 1 GiB page
 * without FS1GP, or XD without NXE, is reserved (0x72). A is set at every level, D on writes.
 */
export function walkFirstStage(
  mem: WalkMem,
  root: bigint,
  iova: bigint,
  write: boolean,
  o: FsWalkOpts,
): PtWalk {
  if (!isCanonical(iova, o.levels)) return FR.NON_CANONICAL;
  let table = root;
  let rw = true;
  let us = true;
  let xd = false;
  for (let level = o.levels; level >= 1; level--) {
    const top = level === o.levels;
    const gpa = table + BigInt(levelIndex(iova, level) * 8);
    const at = o.xlate ? o.xlate(gpa, false, top) : gpa;
    if (typeof at === 'number') return at;
    const pte = read(mem, at);
    if (pte === undefined) return top ? FR.FS_PML4_ACCESS : FR.FS_ACCESS;
    if (!(pte & FS_P)) return FR.FS_P;
    const ps = level > 1 && (pte & FS_PS) !== 0n;
    const leaf = level === 1 || ps;
    if (pte & PTE_ABOVE_HAW) return FR.FS_RSVD;
    if (ps && (level > 3 || (level === 3 && !o.fs1gp))) return FR.FS_RSVD;
    if (pte & FS_XD && !o.nxe) return FR.FS_RSVD;
    const size = 1n << levelShift(level);
    // Bit 12 of a superpage leaf is its PAT bit, not address.
    if (ps && pte & PTE_ADDR_MASK & (size - 1n) & ~0x1000n) return FR.FS_RSVD;
    rw &&= (pte & FS_RW) !== 0n;
    us &&= (pte & FS_US) !== 0n;
    xd ||= (pte & FS_XD) !== 0n;
    let v = pte | FS_A;
    if (leaf && write && rw) v |= FS_D;
    if (v !== pte) {
      const wat = o.xlate ? o.xlate(gpa, true, top) : gpa;
      if (typeof wat === 'number') return wat;
      mem.writeU64(wat, v);
    }
    if (leaf) {
      return {
        pa: v & PTE_ADDR_MASK & ~(size - 1n),
        size,
        read: true,
        write: rw,
        exec: !xd,
        user: us,
        ptePa: at,
        dirty: (v & FS_D) !== 0n,
      };
    }
    table = pte & PTE_ADDR_MASK;
  }
  throw new Error('unreachable: first-stage walk ran out of levels');
}
