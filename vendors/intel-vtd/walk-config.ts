import { PhysAccessError } from '../../actors/mem/phys-memory.ts';
import {
  AW_57,
  CONTEXT_ENTRY_SIZE,
  type ContextEntry,
  CTX_HI_RSVD,
  CTX_LO_RSVD,
  contextDirEntries,
  decodeContext,
  decodePasid,
  decodePasidDir,
  decodeRoot,
  PASID_DIR_ENTRY_SIZE,
  PASID_ENTRY_SIZE,
  PASID_PDE_SHIFT,
  type PasidEntry,
  PDE_RSVD,
  PGTT_FL_ONLY,
  PGTT_NESTED,
  PGTT_PT,
  PGTT_SL_ONLY,
  pasidReservedSet,
  ROOT_ENTRY_SIZE,
  ROOT_RSVD,
} from './entries.ts';
import { FR } from './fault-reasons.ts';
import { PTE_ABOVE_HAW } from './pte.ts';
import type { WalkMem } from './walk-pt.ts';

/** A configuration fault: the reason, and whether an FPD bit on the way suppresses recording. */
export interface ConfigFault {
  readonly fr: number;
  readonly fpd: boolean;
}

/** What the hardware checks a PASID entry against (from CAP/ECAP). */
export interface ConfigCaps {
  readonly sagaw: number;
  readonly fsts: boolean;
  readonly ssts: boolean;
  readonly nest: boolean;
  readonly pt: boolean;
  readonly fs5lp: boolean;
}

/** A valid, present PASID entry, with the FPD of every level that led to it. */
export interface PasidConfig {
  readonly pe: PasidEntry;
  readonly fpd: boolean;
}

const isFault = (v: unknown): v is ConfigFault => typeof v === 'object' && v !== null && 'fr' in v;

export { isFault as isConfigFault };

function readWords(mem: WalkMem, pa: bigint, n: number): bigint[] | undefined {
  try {
    const out: bigint[] = [];
    for (let i = 0; i < n; i++) out.push(mem.readU64(pa + BigInt(i * 8)));
    return out;
  } catch (err) {
    if (err instanceof PhysAccessError) return undefined;
    throw err;
  }
}

/** Root table (RTADDR) → root entry (bus) → scalable context entry (devfn). */
export function fetchContext(mem: WalkMem, rootTable: bigint, sid: number): ContextEntry | ConfigFault {
  const bus = sid >> 8;
  const devfn = sid & 0xff;
  const root = readWords(mem, rootTable + BigInt(bus * ROOT_ENTRY_SIZE), 2);
  if (!root) return { fr: FR.ROOT_ACCESS, fpd: false };
  const upper = devfn >= 128;
  const half = upper ? root[1]! : root[0]!;
  if (half & ROOT_RSVD || half & PTE_ABOVE_HAW) return { fr: FR.ROOT_RSVD, fpd: false };
  const re = decodeRoot(root[0]!, root[1]!);
  if (!(upper ? re.up : re.lp)) return { fr: FR.ROOT_P, fpd: false };
  const table = upper ? re.uctp : re.lctp;
  const w = readWords(mem, table + BigInt((devfn & 0x7f) * CONTEXT_ENTRY_SIZE), 4);
  if (!w) return { fr: FR.CTX_ACCESS, fpd: false };
  const ctx = decodeContext(w[0]!, w[1]!);
  if (!ctx.p) return { fr: FR.CTX_P, fpd: ctx.fpd };
  if (w[0]! & CTX_LO_RSVD || w[0]! & PTE_ABOVE_HAW || w[1]! & CTX_HI_RSVD || w[2] || w[3]) {
    return { fr: FR.CTX_RSVD, fpd: ctx.fpd };
  }
  return ctx;
}

/** The PASID directory → PASID table walk for `pasid`, with the entry's validity checks. */
export function fetchPasidEntry(
  mem: WalkMem,
  ctx: ContextEntry,
  pasid: number,
  caps: ConfigCaps,
): PasidConfig | ConfigFault {
  const dirIndex = pasid >> PASID_PDE_SHIFT;
  if (dirIndex >= contextDirEntries(ctx.pdts)) return { fr: FR.CTX_PASID_MAX, fpd: ctx.fpd };
  const pdeWords = readWords(mem, ctx.pasidDirPtr + BigInt(dirIndex * PASID_DIR_ENTRY_SIZE), 1);
  if (!pdeWords) return { fr: FR.PDE_ACCESS, fpd: ctx.fpd };
  const pde = decodePasidDir(pdeWords[0]!);
  let fpd = ctx.fpd || pde.fpd;
  if (!pde.p) return { fr: FR.PDE_P, fpd };
  if (pdeWords[0]! & PDE_RSVD || pdeWords[0]! & PTE_ABOVE_HAW) return { fr: FR.PDE_RSVD, fpd };
  const index = pasid & ((1 << PASID_PDE_SHIFT) - 1);
  const w = readWords(mem, pde.ptp + BigInt(index * PASID_ENTRY_SIZE), 8);
  if (!w) return { fr: FR.PTE_ACCESS, fpd };
  const pe = decodePasid(w);
  fpd ||= pe.fpd;
  if (!pe.p) return { fr: FR.PTE_P, fpd };
  if (pasidReservedSet(w) || pe.ssptptr & PTE_ABOVE_HAW || pe.fsptptr & PTE_ABOVE_HAW) {
    return { fr: FR.PTE_RSVD, fpd };
  }
  if (!pgttValid(pe, caps)) return { fr: FR.PTE_INVALID, fpd };
  return { pe, fpd };
}

function pgttValid(pe: PasidEntry, caps: ConfigCaps): boolean {
  const ssOk = pe.aw >= 1 && pe.aw <= AW_57 && (caps.sagaw & (1 << pe.aw)) !== 0;
  const fsOk = pe.flpm === 0 || (pe.flpm === 1 && caps.fs5lp);
  switch (pe.pgtt) {
    case PGTT_FL_ONLY:
      return caps.fsts && fsOk;
    case PGTT_SL_ONLY:
      return caps.ssts && ssOk;
    case PGTT_NESTED:
      return caps.nest && ssOk && fsOk;
    case PGTT_PT:
      return caps.pt;
    default:
      return false;
  }
}
