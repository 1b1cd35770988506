import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { PhysAccessError } from '../../actors/mem/phys-memory.ts';

/**
 * VMSAv8-64 translation tables, 4 KiB granule (io-pgtable-arm's ARM_LPAE_* names): descriptor
 * bits and the hardware walk. Level 0..3 resolve VA bits 47:39, 38:30, 29:21, 20:12; blocks are
 * 1 GiB (level 1) and 2 MiB (level 2), pages 4 KiB (level 3).
 */
export const ARM_LPAE_GRANULE = 4096n;
export const ARM_LPAE_PTE_TYPE_MASK = 3n;
export const ARM_LPAE_PTE_TYPE_BLOCK = 1n;
export const ARM_LPAE_PTE_TYPE_TABLE = 3n;
export const ARM_LPAE_PTE_TYPE_PAGE = 3n;
export const ARM_LPAE_PTE_NSTABLE = 1n << 63n;
export const ARM_LPAE_PTE_APTABLE_NO_WRITE = 1n << 62n;
export const ARM_LPAE_PTE_APTABLE_NO_EL0 = 1n << 61n;
export const ARM_LPAE_PTE_UXNTABLE = 1n << 60n;
export const ARM_LPAE_PTE_PXNTABLE = 1n << 59n;
export const ARM_LPAE_PTE_UXN = 1n << 54n;
export const ARM_LPAE_PTE_PXN = 1n << 53n;
export const ARM_LPAE_PTE_XN = ARM_LPAE_PTE_UXN | ARM_LPAE_PTE_PXN;
export const ARM_LPAE_PTE_DBM = 1n << 51n;
export const ARM_LPAE_PTE_nG = 1n << 11n;
export const ARM_LPAE_PTE_AF = 1n << 10n;
export const ARM_LPAE_PTE_SH_IS = 3n << 8n;
export const ARM_LPAE_PTE_NS = 1n << 5n;
/** Stage 1 AP[2:1]: bit 6 lets EL0 (unprivileged) in, bit 7 makes the page read-only. */
export const ARM_LPAE_PTE_AP_UNPRIV = 1n << 6n;
export const ARM_LPAE_PTE_AP_RDONLY = 1n << 7n;
export const ARM_LPAE_PTE_ATTRINDX_SHIFT = 2n;
/** Stage 2 S2AP: bit 6 read, bit 7 write; MemAttr 5:2. */
export const ARM_LPAE_PTE_HAP_READ = 1n << 6n;
export const ARM_LPAE_PTE_HAP_WRITE = 1n << 7n;
export const ARM_LPAE_PTE_MEMATTR_OIWB = 0xfn << 2n;
/** Output address bits 47:12 (48-bit OA, no LPA). */
export const ARM_LPAE_OA_MASK = ((1n << 48n) - 1n) & ~0xfffn;
/** MAIR: idx 0 NC, 1 WBRWA (IOMMU_CACHE), 2 device, 3 inner-NC outer-WB. */
export const ARM_LPAE_MAIR_ATTR_IDX_CACHE = 1n;
export const ARM_LPAE_MAIR = 0xf404ff44n;

export function levelShift(level: number): bigint {
  return BigInt(12 + 9 * (3 - level));
}

export function blockSize(level: number): bigint {
  return 1n << levelShift(level);
}

/** The start level for `ias` input bits with a 4K granule (stage 1 derives it from TxSZ). */
export function startLevelFor(ias: number): number {
  return 4 - Math.ceil((ias - 12) / 9);
}

export type WalkFaultKind = 'translation' | 'addr-size' | 'access' | 'permission' | 'eabt';

export interface WalkConfig {
  readonly root: bigint;
  readonly startLevel: number;
  /** Input address bits the table resolves. */
  readonly ias: number;
  /** Output address bits (CD.IPS / VTCR.PS capped by IDR5.OAS). */
  readonly oas: number;
  readonly stage: 1 | 2;
  /** HTTU: hardware sets AF / clears AP[2] on DBM pages. */
  readonly ha: boolean;
  readonly hd: boolean;
}

export interface WalkAccess {
  readonly write: boolean;
  readonly exec: boolean;
  readonly priv: boolean;
}

export interface WalkOk {
  readonly ok: true;
  readonly oa: bigint;
  readonly pageSize: bigint;
  readonly level: number;
  readonly read: boolean;
  /** Writable now, without a hardware update. */
  readonly write: boolean;
  /** Writable-clean (DBM) with HD: a write may still go through, setting dirty. */
  readonly dirtyable: boolean;
  /** The leaf's dirty state is hardware-managed (DBM under HD). */
  readonly dbm: boolean;
  readonly exec: boolean;
}

export interface WalkFault {
  readonly ok: false;
  readonly kind: WalkFaultKind;
  readonly level: number;
  /** A fault on a stage-1 table fetch or final address through stage 2 (nesting). */
  readonly s2?: { readonly ipa: bigint; readonly onTableFetch: boolean };
}

export type WalkResult = WalkOk | WalkFault;

/** Maps a stage-1 table address (an IPA when nested) to the PA to read. */
export type TableFetch = (addr: bigint) => { ok: true; pa: bigint } | WalkFault;

function fault(kind: WalkFaultKind, level: number): WalkFault {
  return { ok: false, kind, level };
}

/**
 * The hardware table walk: reads descriptors from physical memory, applies the hierarchical
 * permissions and HTTU updates (AF, DBM dirty), and returns the leaf or the walk fault.
 */
export function walk(
  phys: PhysMemory,
  cfg: WalkConfig,
  ia: bigint,
  access: WalkAccess,
  fetch?: TableFetch,
): WalkResult {
  if (ia >> BigInt(cfg.ias) !== 0n) return fault('translation', cfg.startLevel);
  if (cfg.root >> BigInt(cfg.oas) !== 0n) return fault('addr-size', cfg.startLevel);
  let table = cfg.root;
  let noWrite = false;
  let noUnpriv = false;
  let uxn = false;
  let pxn = false;
  for (let level = cfg.startLevel; level <= 3; level++) {
    const shift = levelShift(level);
    const bits = level === cfg.startLevel ? BigInt(cfg.ias) - shift : 9n;
    const index = (ia >> shift) & ((1n << bits) - 1n);
    let tablePa = table;
    if (fetch) {
      const f = fetch(table);
      if (!f.ok) return f;
      tablePa = f.pa;
    }
    const descPa = tablePa + index * 8n;
    let desc: bigint;
    try {
      desc = phys.readU64(descPa);
    } catch (err) {
      if (err instanceof PhysAccessError) return fault('eabt', level);
      throw err;
    }
    const type = desc & ARM_LPAE_PTE_TYPE_MASK;
    if ((desc & 1n) === 0n) return fault('translation', level);
    const oa = desc & ARM_LPAE_OA_MASK;
    if (level < 3 && type === ARM_LPAE_PTE_TYPE_TABLE) {
      if (oa >> BigInt(cfg.oas) !== 0n) return fault('addr-size', level);
      if (cfg.stage === 1) {
        noWrite ||= (desc & ARM_LPAE_PTE_APTABLE_NO_WRITE) !== 0n;
        noUnpriv ||= (desc & ARM_LPAE_PTE_APTABLE_NO_EL0) !== 0n;
        uxn ||= (desc & ARM_LPAE_PTE_UXNTABLE) !== 0n;
        pxn ||= (desc & ARM_LPAE_PTE_PXNTABLE) !== 0n;
      }
      table = oa;
      continue;
    }
    // A block at level 0, or type 0b01 at level 3, is reserved: a translation fault.
    if (level === 0 || (level === 3 && type !== ARM_LPAE_PTE_TYPE_PAGE)) return fault('translation', level);
    const size = blockSize(level);
    const base = oa & ~(size - 1n);
    if (base >> BigInt(cfg.oas) !== 0n) return fault('addr-size', level);
    return leaf(phys, cfg, descPa, desc, level, base, size, access, { noWrite, noUnpriv, uxn, pxn });
  }
  return fault('translation', 3);
}

interface TableAttrs {
  readonly noWrite: boolean;
  readonly noUnpriv: boolean;
  readonly uxn: boolean;
  readonly pxn: boolean;
}

function leaf(
  phys: PhysMemory,
  cfg: WalkConfig,
  descPa: bigint,
  desc0: bigint,
  level: number,
  oa: bigint,
  pageSize: bigint,
  access: WalkAccess,
  t: TableAttrs,
): WalkResult {
  let desc = desc0;
  if ((desc & ARM_LPAE_PTE_AF) === 0n) {
    if (!cfg.ha) return fault('access', level);
    desc |= ARM_LPAE_PTE_AF;
  }
  let read: boolean;
  let write: boolean;
  let exec: boolean;
  let dirtyable = false;
  let dbm = false;
  if (cfg.stage === 2) {
    read = (desc & ARM_LPAE_PTE_HAP_READ) !== 0n;
    write = (desc & ARM_LPAE_PTE_HAP_WRITE) !== 0n;
    exec = (desc & ARM_LPAE_PTE_XN) === 0n;
  } else {
    const el0 = (desc & ARM_LPAE_PTE_AP_UNPRIV) !== 0n && !t.noUnpriv;
    read = access.priv || el0;
    const rdonly = (desc & ARM_LPAE_PTE_AP_RDONLY) !== 0n || t.noWrite;
    dbm = cfg.hd && (desc & ARM_LPAE_PTE_DBM) !== 0n;
    dirtyable = read && rdonly && !t.noWrite && dbm;
    write = read && !rdonly;
    exec = access.priv
      ? (desc & ARM_LPAE_PTE_PXN) === 0n && !t.pxn
      : (desc & ARM_LPAE_PTE_UXN) === 0n && !t.uxn;
    if (access.write && dirtyable) {
      // HTTU dirty state: a write to a writable-clean page clears AP[2] in the descriptor.
      desc &= ~ARM_LPAE_PTE_AP_RDONLY;
      write = true;
      dirtyable = false;
    }
  }
  if (desc !== desc0) phys.writeU64(descPa, desc);
  const allowed = access.write ? write : read;
  if (!allowed || (access.exec && !exec)) return fault('permission', level);
  return { ok: true, oa, pageSize, level, read, write, dirtyable, dbm, exec };
}
