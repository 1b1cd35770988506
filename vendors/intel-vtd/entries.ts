/**
 * Scalable-mode translation structures, bit for bit (drivers/iommu/intel/{iommu.h,pasid.h}):
 * root entry (16 B) → scalable context entry (32 B) → PASID directory entry (8 B) → PASID
 * table entry (64 B). Both the driver (writing) and the hardware (walking) use these codecs;
 * the hardware additionally checks the reserved masks.
 */

export const ROOT_ENTRY_SIZE = 16;
export const CONTEXT_ENTRY_SIZE = 32;
export const PASID_DIR_ENTRY_SIZE = 8;
export const PASID_ENTRY_SIZE = 64;
/** Context entries per 4 KiB table: devfn 0-127 in the lower table, 128-255 in the upper. */
export const CONTEXT_PER_TABLE = 128;
/** PASID entries per PASID table page; the directory index is `pasid >> 6`. */
export const PASID_PDE_SHIFT = 6;

const ADDR_MASK = 0xffff_ffff_ffff_f000n;
const b = (v: bigint, pos: bigint): boolean => ((v >> pos) & 1n) === 1n;
const f = (v: bigint, pos: bigint, width: bigint): number => Number((v >> pos) & ((1n << width) - 1n));
const set = (cond: boolean, pos: bigint): bigint => (cond ? 1n << pos : 0n);

/** Root entry: lo = LCTP + LP, hi = UCTP + UP. Bits 11:1 of each half are reserved. */
export interface RootEntry {
  readonly lp: boolean;
  readonly lctp: bigint;
  readonly up: boolean;
  readonly uctp: bigint;
}
export const ROOT_RSVD = 0xffen;

export function encodeRoot(e: RootEntry): [bigint, bigint] {
  return [(e.lctp & ADDR_MASK) | set(e.lp, 0n), (e.uctp & ADDR_MASK) | set(e.up, 0n)];
}

export function decodeRoot(lo: bigint, hi: bigint): RootEntry {
  return { lp: b(lo, 0n), lctp: lo & ADDR_MASK, up: b(hi, 0n), uctp: hi & ADDR_MASK };
}

/**
 * Scalable context entry. lo: P 0, FPD 1, DTE 2, PASIDE 3, PRE 4, PDTS 11:9, PASIDDIRPTR 63:12;
 * hi: RID_PASID 19:0, RID_PRIV 20. Words 2 and 3 are reserved.
 */
export interface ContextEntry {
  readonly p: boolean;
  readonly fpd: boolean;
  readonly dte: boolean;
  readonly paside: boolean;
  readonly pre: boolean;
  /** The directory has 2^(pdts+7) entries. */
  readonly pdts: number;
  readonly pasidDirPtr: bigint;
  readonly ridPasid: number;
  readonly ridPriv: boolean;
}
export const CTX_LO_RSVD = 0x1e0n;
export const CTX_HI_RSVD = ~((1n << 21n) - 1n) & 0xffff_ffff_ffff_ffffn;

export function encodeContext(e: ContextEntry): [bigint, bigint, bigint, bigint] {
  const lo =
    (e.pasidDirPtr & ADDR_MASK) |
    (BigInt(e.pdts & 7) << 9n) |
    set(e.pre, 4n) |
    set(e.paside, 3n) |
    set(e.dte, 2n) |
    set(e.fpd, 1n) |
    set(e.p, 0n);
  const hi = BigInt(e.ridPasid & 0xfffff) | set(e.ridPriv, 20n);
  return [lo, hi, 0n, 0n];
}

export function decodeContext(lo: bigint, hi: bigint): ContextEntry {
  return {
    p: b(lo, 0n),
    fpd: b(lo, 1n),
    dte: b(lo, 2n),
    paside: b(lo, 3n),
    pre: b(lo, 4n),
    pdts: f(lo, 9n, 3n),
    pasidDirPtr: lo & ADDR_MASK,
    ridPasid: f(hi, 0n, 20n),
    ridPriv: b(hi, 20n),
  };
}

export const contextDirEntries = (pdts: number): number => 1 << (pdts + 7);

/** PASID directory entry: P 0, FPD 1, PASID table pointer 63:12; bits 11:2 reserved. */
export interface PasidDirEntry {
  readonly p: boolean;
  readonly fpd: boolean;
  readonly ptp: bigint;
}
export const PDE_RSVD = 0xffcn;

export const encodePasidDir = (e: PasidDirEntry): bigint =>
  (e.ptp & ADDR_MASK) | set(e.fpd, 1n) | set(e.p, 0n);

export const decodePasidDir = (v: bigint): PasidDirEntry => ({
  p: b(v, 0n),
  fpd: b(v, 1n),
  ptp: v & ADDR_MASK,
});

/** PASID entry Granular Translation Type (val[0] bits 8:6). */
export const PGTT_FL_ONLY = 1;
export const PGTT_SL_ONLY = 2;
export const PGTT_NESTED = 3;
export const PGTT_PT = 4;

/** PASID entry AW (val[0] bits 4:2): the SAGAW bit index. */
export const AW_39 = 1;
export const AW_48 = 2;
export const AW_57 = 3;

/**
 * PASID table entry, val[0..7]. val[0]: P 0, FPD 1, AW 4:2, PGTT 8:6, SSADE 9, SSPTPTR 63:12.
 * val[1]: DID 15:0, PWSNP 23, PGSNP 24. val[2]: SRE 0, FLPM 3:2, WPE 4, NXE 5, EAFE 7,
 * FSPTPTR 63:12.
 */
export interface PasidEntry {
  readonly p: boolean;
  readonly fpd: boolean;
  readonly aw: number;
  readonly pgtt: number;
  readonly ssade: boolean;
  readonly ssptptr: bigint;
  readonly did: number;
  readonly pwsnp: boolean;
  readonly pgsnp: boolean;
  readonly sre: boolean;
  readonly flpm: number;
  readonly wpe: boolean;
  readonly nxe: boolean;
  readonly eafe: boolean;
  readonly fsptptr: bigint;
}

export const EMPTY_PASID_ENTRY: PasidEntry = {
  p: false,
  fpd: false,
  aw: 0,
  pgtt: 0,
  ssade: false,
  ssptptr: 0n,
  did: 0,
  pwsnp: false,
  pgsnp: false,
  sre: false,
  flpm: 0,
  wpe: false,
  nxe: false,
  eafe: false,
  fsptptr: 0n,
};

/** Reserved bits per word (val[3..7] are wholly reserved). val[1] 63:25 carries memory-type/PAT fields. */
export const PASID_RSVD: readonly bigint[] = [0xc20n, 0x7f_0000n, 0xf00n];

export function encodePasid(e: PasidEntry): bigint[] {
  const v0 =
    (e.ssptptr & ADDR_MASK) |
    set(e.ssade, 9n) |
    (BigInt(e.pgtt & 7) << 6n) |
    (BigInt(e.aw & 7) << 2n) |
    set(e.fpd, 1n) |
    set(e.p, 0n);
  const v1 = BigInt(e.did & 0xffff) | set(e.pwsnp, 23n) | set(e.pgsnp, 24n);
  const v2 =
    (e.fsptptr & ADDR_MASK) |
    set(e.eafe, 7n) |
    set(e.nxe, 5n) |
    set(e.wpe, 4n) |
    (BigInt(e.flpm & 3) << 2n) |
    set(e.sre, 0n);
  return [v0, v1, v2, 0n, 0n, 0n, 0n, 0n];
}

export function decodePasid(v: readonly bigint[]): PasidEntry {
  const [v0 = 0n, v1 = 0n, v2 = 0n] = v;
  return {
    p: b(v0, 0n),
    fpd: b(v0, 1n),
    aw: f(v0, 2n, 3n),
    pgtt: f(v0, 6n, 3n),
    ssade: b(v0, 9n),
    ssptptr: v0 & ADDR_MASK,
    did: f(v1, 0n, 16n),
    pwsnp: b(v1, 23n),
    pgsnp: b(v1, 24n),
    sre: b(v2, 0n),
    flpm: f(v2, 2n, 2n),
    wpe: b(v2, 4n),
    nxe: b(v2, 5n),
    eafe: b(v2, 7n),
    fsptptr: v2 & ADDR_MASK,
  };
}

/** True if any reserved bit of the 8 PASID-entry words is set. */
export function pasidReservedSet(v: readonly bigint[]): boolean {
  for (let i = 0; i < 8; i++) {
    const w = v[i] ?? 0n;
    const rsvd = PASID_RSVD[i];
    if (rsvd === undefined ? w !== 0n : (w & rsvd) !== 0n) return true;
  }
  return false;
}
