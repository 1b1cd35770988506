import { describe, expect, test } from 'vitest';
import { PhysMemory } from '../../../../actors/mem/phys-memory.ts';
import { IOMMU_READ } from '../../../../vendors/driver.ts';
import {
  EMPTY_PASID_ENTRY,
  encodeContext,
  encodePasid,
  encodePasidDir,
  type PasidEntry,
  PGTT_FL_ONLY,
  PGTT_SL_ONLY,
} from '../../../../vendors/intel-vtd/entries.ts';
import { FR } from '../../../../vendors/intel-vtd/fault-reasons.ts';
import { IoPageTable } from '../../../../vendors/intel-vtd/page-table.ts';
import { FS_P, FS_PS, FS_XD, SS_A, SS_D, SS_PS, SS_R } from '../../../../vendors/intel-vtd/pte.ts';
import { fetchContext, fetchPasidEntry, isConfigFault } from '../../../../vendors/intel-vtd/walk-config.ts';
import { isCanonical, walkFirstStage, walkSecondStage } from '../../../../vendors/intel-vtd/walk-pt.ts';
import { RW } from './helpers.ts';

const SS = { aw: 2, ssade: false, sllps: 3 };
const FS = { levels: 4, nxe: false, fs1gp: true };

function mem() {
  return new PhysMemory({ totalBytes: 1n << 36n });
}

function page(phys: PhysMemory): bigint {
  return phys.allocPage() << 12n;
}

describe('second-stage walk', () => {
  test('4 KiB, 2 MiB and 1 GiB leaves written by the driver are found by the hardware walk', () => {
    const phys = mem();
    const pt = new IoPageTable(phys, 'ss', 4, 3);
    pt.map(0x1000n, 0x7_0000_1000n, 0x1000n, RW);
    pt.map(0x20_0000n, 0x8_0020_0000n, 0x20_0000n, IOMMU_READ);
    pt.map(0x4000_0000n, 0x9_4000_0000n, 0x4000_0000n, RW);
    expect(walkSecondStage(phys, pt.root, 0x1234n, false, SS)).toMatchObject({
      pa: 0x7_0000_1000n,
      size: 0x1000n,
    });
    const two = walkSecondStage(phys, pt.root, 0x2f_f000n, true, SS);
    expect(two).toMatchObject({ pa: 0x8_0020_0000n, size: 0x20_0000n, read: true, write: false });
    expect(walkSecondStage(phys, pt.root, 0x7fff_ffffn, false, SS)).toMatchObject({
      pa: 0x9_4000_0000n,
      size: 0x4000_0000n,
    });
    expect(pt.tablePages).toBe(4); // PML4, PDPT (holds the 1G leaf), one PD (the 2M leaf), one PT
  });

  test('R=W=0 anywhere is 0x79; beyond AW is 0x83; a missing table page is 0x78', () => {
    const phys = mem();
    const pt = new IoPageTable(phys, 'ss', 4, 3);
    expect(walkSecondStage(phys, pt.root, 0x5000n, false, SS)).toBe(FR.SS_RW);
    expect(walkSecondStage(phys, pt.root, 1n << 48n, false, SS)).toBe(FR.BEYOND_MAX);
    expect(walkSecondStage(phys, 0x7_7000_0000n, 0x5000n, false, SS)).toBe(FR.SS_ACCESS);
  });

  test('reserved bits: PS at the top level, address above HAW, memory type in a non-leaf', () => {
    const phys = mem();
    const root = page(phys);
    phys.writeU64(root, 0x1000n | SS_R | SS_PS);
    expect(walkSecondStage(phys, root, 0n, false, SS)).toBe(FR.SS_RSVD);
    phys.writeU64(root, (1n << 50n) | SS_R);
    expect(walkSecondStage(phys, root, 0n, false, SS)).toBe(FR.SS_RSVD);
    phys.writeU64(root, page(phys) | SS_R | (1n << 4n));
    expect(walkSecondStage(phys, root, 0n, false, SS)).toBe(FR.SS_RSVD);
  });

  test('a 1 GiB leaf without SLLPS 1G is reserved', () => {
    const phys = mem();
    const pt = new IoPageTable(phys, 'ss', 4, 3);
    pt.map(0x4000_0000n, 0x4000_0000n, 0x4000_0000n, RW);
    expect(walkSecondStage(phys, pt.root, 0x4000_0000n, false, { ...SS, sllps: 1 })).toBe(FR.SS_RSVD);
  });

  test('with SSADE the walk sets A on every level and D in the leaf of a write', () => {
    const phys = mem();
    const pt = new IoPageTable(phys, 'ss', 4, 1);
    pt.map(0x3000n, 0x10_3000n, 0x1000n, RW);
    walkSecondStage(phys, pt.root, 0x3000n, false, SS);
    expect(pt.lookup(0x3000n)!.pte & (SS_A | SS_D)).toBe(0n);
    walkSecondStage(phys, pt.root, 0x3000n, false, { ...SS, ssade: true });
    expect(pt.lookup(0x3000n)!.pte & (SS_A | SS_D)).toBe(SS_A);
    expect(phys.readU64(pt.root) & SS_A).toBe(SS_A);
    const leaf = walkSecondStage(phys, pt.root, 0x3000n, true, { ...SS, ssade: true });
    expect(leaf).toMatchObject({ dirty: true });
    expect(pt.lookup(0x3000n)!.pte & SS_D).toBe(SS_D);
  });
});

describe('first-stage walk', () => {
  test('finds leaves the driver wrote, with U/S, R/W and A/D preset', () => {
    const phys = mem();
    const pt = new IoPageTable(phys, 'fs', 4, 3);
    pt.map(0x40_0000n, 0x5_0040_0000n, 0x20_0000n, RW);
    pt.map(0x9000n, 0x5_0000_9000n, 0x1000n, IOMMU_READ);
    expect(walkFirstStage(phys, pt.root, 0x41_2345n, true, FS)).toMatchObject({
      pa: 0x5_0040_0000n,
      size: 0x20_0000n,
      write: true,
      user: true,
      dirty: true,
    });
    expect(walkFirstStage(phys, pt.root, 0x9000n, false, FS)).toMatchObject({ write: false, user: true });
  });

  test('P clear is 0x71; a non-canonical address is 0x80; a missing PML4 is 0x73', () => {
    const phys = mem();
    const pt = new IoPageTable(phys, 'fs', 4, 3);
    expect(walkFirstStage(phys, pt.root, 0x1000n, false, FS)).toBe(FR.FS_P);
    expect(walkFirstStage(phys, pt.root, 1n << 47n, false, FS)).toBe(FR.NON_CANONICAL);
    expect(isCanonical(0xffff_8000_0000_0000n, 4)).toBe(true);
    expect(walkFirstStage(phys, 0x7_7000_0000n, 0x1000n, false, FS)).toBe(FR.FS_PML4_ACCESS);
  });

  test('reserved: PS in the PML4, 1 GiB without FS1GP, XD without NXE', () => {
    const phys = mem();
    const root = page(phys);
    phys.writeU64(root, 0n | FS_P | FS_PS);
    expect(walkFirstStage(phys, root, 0n, false, FS)).toBe(FR.FS_RSVD);
    const pdpt = page(phys);
    phys.writeU64(root, pdpt | FS_P);
    phys.writeU64(pdpt, 0x4000_0000n | FS_P | FS_PS);
    expect(walkFirstStage(phys, root, 0n, false, { ...FS, fs1gp: false })).toBe(FR.FS_RSVD);
    expect(walkFirstStage(phys, root, 0n, false, FS)).toMatchObject({ size: 0x4000_0000n });
    phys.writeU64(pdpt, 0x4000_0000n | FS_P | FS_PS | FS_XD);
    expect(walkFirstStage(phys, root, 0n, false, FS)).toBe(FR.FS_RSVD);
    expect(walkFirstStage(phys, root, 0n, false, { ...FS, nxe: true })).toMatchObject({ exec: false });
  });
});

describe('configuration walk', () => {
  function tables(phys: PhysMemory, pe: Partial<PasidEntry>) {
    const root = page(phys);
    const ctxTable = page(phys);
    const dir = page(phys);
    const ptable = page(phys);
    phys.writeU64(root + 2n * 16n, ctxTable | 1n); // bus 2, lower half
    const ctx = encodeContext({
      p: true,
      fpd: false,
      dte: false,
      paside: true,
      pre: false,
      pdts: 2,
      pasidDirPtr: dir,
      ridPasid: 0,
      ridPriv: false,
    });
    for (const [i, w] of ctx.entries()) phys.writeU64(ctxTable + 8n * 32n + BigInt(i * 8), w); // devfn 8
    phys.writeU64(dir, encodePasidDir({ p: true, fpd: false, ptp: ptable }));
    const words = encodePasid({ ...EMPTY_PASID_ENTRY, p: true, aw: 2, pgtt: PGTT_SL_ONLY, did: 3, ...pe });
    for (const [i, w] of words.entries()) phys.writeU64(ptable + BigInt(i * 8), w);
    return { root, ctxTable, dir, ptable, sid: 0x0208 };
  }
  const caps = { sagaw: 0b110, fsts: true, ssts: true, nest: true, pt: true, fs5lp: false };

  test('root → context → PASID directory → PASID entry', () => {
    const phys = mem();
    const t = tables(phys, {});
    const ctx = fetchContext(phys, t.root, t.sid);
    if (isConfigFault(ctx)) throw new Error('fault');
    expect(ctx).toMatchObject({ p: true, paside: true, pdts: 2, pasidDirPtr: t.dir });
    const pe = fetchPasidEntry(phys, ctx, 0, caps);
    expect(pe).toMatchObject({ pe: { did: 3, pgtt: PGTT_SL_ONLY }, fpd: false });
  });

  test('fault reasons: root P 0x39, context P 0x41, reserved context 0x42, PASID too big 0x46', () => {
    const phys = mem();
    const t = tables(phys, {});
    expect(fetchContext(phys, t.root, 0x0308)).toEqual({ fr: FR.ROOT_P, fpd: false });
    expect(fetchContext(phys, t.root, 0x0209)).toEqual({ fr: FR.CTX_P, fpd: false });
    phys.writeU64(t.ctxTable + 8n * 32n + 16n, 1n);
    expect(fetchContext(phys, t.root, t.sid)).toEqual({ fr: FR.CTX_RSVD, fpd: false });
    phys.writeU64(t.ctxTable + 8n * 32n + 16n, 0n);
    const ctx = fetchContext(phys, t.root, t.sid);
    if (isConfigFault(ctx)) throw new Error('fault');
    expect(fetchPasidEntry(phys, ctx, 512 * 64, caps)).toEqual({ fr: FR.CTX_PASID_MAX, fpd: false });
    expect(fetchPasidEntry(phys, ctx, 64, caps)).toEqual({ fr: FR.PDE_P, fpd: false });
    expect(fetchPasidEntry(phys, ctx, 1, caps)).toEqual({ fr: FR.PTE_P, fpd: false });
  });

  test('PASID entry: FPD on a non-present entry suppresses; bad PGTT, AW or reserved bits are faults', () => {
    const phys = mem();
    const check = (pe: Partial<PasidEntry>, extra?: [number, bigint]) => {
      const t = tables(phys, pe);
      if (extra) phys.writeU64(t.ptable + BigInt(extra[0] * 8), extra[1]);
      const ctx = fetchContext(phys, t.root, t.sid);
      if (isConfigFault(ctx)) throw new Error('fault');
      return fetchPasidEntry(phys, ctx, 0, caps);
    };
    expect(check({ p: false, fpd: true })).toEqual({ fr: FR.PTE_P, fpd: true });
    expect(check({ pgtt: 5 })).toEqual({ fr: FR.PTE_INVALID, fpd: false });
    expect(check({ aw: 3 })).toEqual({ fr: FR.PTE_INVALID, fpd: false });
    expect(check({ pgtt: PGTT_FL_ONLY, flpm: 1 })).toEqual({ fr: FR.PTE_INVALID, fpd: false });
    expect(check({}, [4, 1n])).toEqual({ fr: FR.PTE_RSVD, fpd: false });
    expect(check({ ssptptr: 1n << 50n })).toEqual({ fr: FR.PTE_RSVD, fpd: false });
  });
});
