import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { V1Miss } from './v1-walk.ts';
import {
  GCR3_ADDR_MASK,
  GCR3_VALID,
  gcr3Index,
  V2_ADDR_MASK,
  V2_NX,
  V2_PRESENT,
  V2_PS,
  V2_RW,
  V2_USER,
} from './v2-pte.ts';

/** Guest-physical → system-physical for one fetch or the final address (the host v1 stage). */
export type GpaToSpa = (
  gpa: bigint,
) => { ok: true; spa: bigint; log2Size: number; read: boolean; write: boolean } | V1Miss;

export interface V2Leaf {
  readonly ok: true;
  /** Guest-physical page address. */
  readonly gpa: bigint;
  readonly log2Size: number;
  readonly write: boolean;
  readonly user: boolean;
  readonly nx: boolean;
  /** System-physical address of the leaf PTE. */
  readonly ptePa: bigint;
}

/**
 * Why a guest walk stopped: `not-present` (a clear P or GCR3 V bit), `reserved` (PS where the
 * level cannot have it, unaligned large page), `range` (beyond the table's reach),
 * `hw-error` (unbacked memory), `host` (the host stage refused a table fetch).
 */
export interface V2Miss {
  readonly ok: false;
  readonly kind: 'not-present' | 'reserved' | 'range' | 'hw-error' | 'host';
  readonly host?: V1Miss;
  readonly at?: bigint;
}

function read(phys: PhysMemory, pa: bigint): bigint | undefined {
  try {
    return phys.readU64(pa);
  } catch {
    return undefined;
  }
}

function fetchSpa(toSpa: GpaToSpa, gpa: bigint): bigint | V2Miss {
  const t = toSpa(gpa);
  if (!t.ok) return { ok: false, kind: 'host', host: t, at: gpa };
  return t.spa;
}

/** The GCR3 table (GLX+1 levels, indexed by PASID) → the guest CR3 (a GPA) of `pasid`. */
export function walkGcr3(
  phys: PhysMemory,
  root: bigint,
  glx: number,
  pasid: number,
  toSpa: GpaToSpa,
): { ok: true; cr3: bigint } | V2Miss {
  if (pasid >= 2 ** (9 * (glx + 1))) return { ok: false, kind: 'range' };
  let table = root;
  for (let level = glx; level >= 0; level--) {
    const spa = fetchSpa(toSpa, table & GCR3_ADDR_MASK);
    if (typeof spa !== 'bigint') return spa;
    const at = spa + BigInt(gcr3Index(pasid, level) * 8);
    const e = read(phys, at);
    if (e === undefined) return { ok: false, kind: 'hw-error', at };
    if (!(e & GCR3_VALID)) return { ok: false, kind: 'not-present' };
    table = e & GCR3_ADDR_MASK;
  }
  return { ok: true, cr3: table };
}

/** The x86-64 walk of a v2 table of `levels` (4 or 5), every fetch through the host stage. */
export function walkV2(
  phys: PhysMemory,
  cr3: bigint,
  levels: number,
  iova: bigint,
  toSpa: GpaToSpa,
): V2Leaf | V2Miss {
  if (iova >> BigInt(12 + 9 * levels) !== 0n) return { ok: false, kind: 'range' };
  let table = cr3 & V2_ADDR_MASK;
  let write = true;
  let user = true;
  let nx = false;
  for (let level = levels; level >= 1; level--) {
    const spa = fetchSpa(toSpa, table);
    if (typeof spa !== 'bigint') return spa;
    const shift = BigInt(12 + 9 * (level - 1));
    const ptePa = spa + ((iova >> shift) & 0x1ffn) * 8n;
    const pte = read(phys, ptePa);
    if (pte === undefined) return { ok: false, kind: 'hw-error', at: ptePa };
    if (!(pte & V2_PRESENT)) return { ok: false, kind: 'not-present' };
    write &&= (pte & V2_RW) !== 0n;
    user &&= (pte & V2_USER) !== 0n;
    nx ||= (pte & V2_NX) !== 0n;
    const large = level > 1 && (pte & V2_PS) !== 0n;
    if (large && level > 3) return { ok: false, kind: 'reserved' };
    if (level === 1 || large) {
      const size = 1n << shift;
      const addr = pte & V2_ADDR_MASK;
      // Below a large page's address only bit 12 (PAT) may be set; the rest is reserved.
      if (addr & (size - 1n) & ~0x1000n) return { ok: false, kind: 'reserved' };
      return { ok: true, gpa: addr & ~(size - 1n), log2Size: Number(shift), write, user, nx, ptePa };
    }
    table = pte & V2_ADDR_MASK;
  }
  return { ok: false, kind: 'reserved' };
}
