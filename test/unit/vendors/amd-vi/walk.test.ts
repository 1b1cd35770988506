import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { PhysMemory } from '../../../../actors/mem/phys-memory.ts';
import { gcr3Levels, setGcr3 } from '../../../../vendors/amd-vi/dte-writer.ts';
import {
  encodeLeaf,
  encodePde,
  NEXT_LEVEL_LARGE,
  PTE_IR,
  PTE_PR,
} from '../../../../vendors/amd-vi/v1-pte.ts';
import { V1PageTable } from '../../../../vendors/amd-vi/v1-table.ts';
import { walkV1 } from '../../../../vendors/amd-vi/v1-walk.ts';
import { V2PageTable } from '../../../../vendors/amd-vi/v2-table.ts';
import type { GpaToSpa } from '../../../../vendors/amd-vi/v2-walk.ts';
import { walkGcr3, walkV2 } from '../../../../vendors/amd-vi/v2-walk.ts';

const IDENTITY: GpaToSpa = (gpa) => ({ ok: true, spa: gpa, log2Size: 52, read: true, write: true });
const SIZES = [12, 13, 16, 21, 24, 30];

describe('v1 walk over tables the driver wrote', () => {
  prop.prop(
    [
      fc.array(
        fc.record({
          log2: fc.constantFrom(...SIZES),
          slot: fc.integer({ min: 0, max: 3 }),
          frame: fc.integer({ min: 1, max: 1 << 12 }),
          read: fc.boolean(),
          write: fc.boolean(),
          probe: fc.integer({ min: 0, max: 0xffff_ffff }),
        }),
        { minLength: 1, maxLength: 6 },
      ),
      fc.constantFrom(3, 4, 6),
    ],
    { numRuns: 60 },
  )('every mapped byte walks to its PA with its permissions; the rest is not present', (maps, levels) => {
    const phys = new PhysMemory();
    const table = new V1PageTable(phys, levels);
    // Mapping i lives in its own 1 GiB region (2^30 pages go into region i's base only).
    const placed = maps.map((m, i) => {
      const size = 1n << BigInt(m.log2);
      const iova = (BigInt(i) << 31n) + BigInt(m.slot) * (size > 1n << 28n ? 0n : size);
      const pa = BigInt(m.frame) << BigInt(m.log2);
      table.mapPage(iova, pa, m.log2, m.read, m.write);
      return { ...m, iova, pa, size };
    });
    for (const m of placed) {
      const off = BigInt(m.probe) % m.size;
      const w = walkV1(phys, table.root, levels, m.iova + off);
      expect(w.ok).toBe(true);
      if (!w.ok) return;
      expect(w.pa + off).toBe(m.pa + off);
      expect(w.log2Size).toBe(m.log2);
      expect([w.read, w.write]).toEqual([m.read, m.write]);
      expect(table.iovaToPhys(m.iova + off)).toBe(m.pa + off);
      const beyond = m.iova + m.size;
      if (!placed.some((p) => beyond >= p.iova && beyond < p.iova + p.size)) {
        expect(walkV1(phys, table.root, levels, beyond)).toMatchObject({ ok: false, kind: 'not-present' });
      }
    }
    for (const m of placed) expect(table.unmap(m.iova, m.size)).toBe(m.size);
    for (const m of placed) expect(walkV1(phys, table.root, levels, m.iova).ok).toBe(false);
  });

  test('level skipping: a level-3 PDE naming a level-1 table; skipped index bits must be zero', () => {
    const phys = new PhysMemory();
    const root = phys.allocPage() << 12n;
    const l1 = phys.allocPage() << 12n;
    phys.writeU64(root, encodePde(1, l1));
    phys.writeU64(l1 + 5n * 8n, encodeLeaf(0x77_7000n, 12, true, true));
    expect(walkV1(phys, root, 3, 0x5123n)).toMatchObject({ ok: true, pa: 0x77_7000n, log2Size: 12 });
    expect(walkV1(phys, root, 3, 0x20_5000n)).toMatchObject({ ok: false, kind: 'not-present', level: 2 });
  });

  test('permissions are the AND over the levels', () => {
    const phys = new PhysMemory();
    const root = phys.allocPage() << 12n;
    const l1 = phys.allocPage() << 12n;
    phys.writeU64(root, l1 | (1n << 9n) | PTE_PR | PTE_IR);
    phys.writeU64(l1, encodeLeaf(0x9000n, 12, true, true));
    expect(walkV1(phys, root, 2, 0n)).toMatchObject({ ok: true, read: true, write: false });
  });

  test('illegal encodings, holes in memory and out-of-range IOVAs', () => {
    const phys = new PhysMemory();
    const root = phys.allocPage() << 12n;
    phys.writeU64(root, encodePde(3, 0x5000n));
    expect(walkV1(phys, root, 3, 0n)).toMatchObject({ ok: false, kind: 'reserved', level: 3 });
    // NextLevel 7 at level 2 marking 8 KiB (not larger than one entry), at level 1 marking 2 MiB.
    const large = (bits: bigint) => bits | (BigInt(NEXT_LEVEL_LARGE) << 9n) | PTE_PR | PTE_IR;
    phys.writeU64(root + 8n * 3n, large(0x4000n));
    expect(walkV1(phys, root, 2, 3n << 21n)).toMatchObject({ ok: false, kind: 'reserved', level: 2 });
    const l1 = phys.allocPage() << 12n;
    phys.writeU64(root + 8n, encodePde(1, l1));
    phys.writeU64(l1, large(0xf_f000n));
    expect(walkV1(phys, root, 2, 1n << 21n)).toMatchObject({ ok: false, kind: 'reserved', level: 1 });
    phys.writeU64(l1, large(0x7000n));
    expect(walkV1(phys, root, 2, 1n << 21n)).toMatchObject({ ok: true, log2Size: 16 });
    phys.writeU64(root + 16n, encodePde(1, 0x7_0000_0000n));
    expect(walkV1(phys, root, 2, 2n << 21n)).toMatchObject({
      ok: false,
      kind: 'hw-error',
      at: 0x7_0000_0000n,
    });
    expect(walkV1(phys, root, 2, 1n << 30n)).toMatchObject({ ok: false, kind: 'range' });
  });
});

describe('GCR3 table and v2 walk', () => {
  function gcr3(phys: PhysMemory, pasids: number) {
    const root = phys.allocPage();
    return { root: root << 12n, glx: gcr3Levels(pasids), domid: 9, pages: [root], pasids: new Map() };
  }

  test('PASID → guest CR3 → x86 walk, 4 KiB and 2 MiB pages, RW and NX', () => {
    const phys = new PhysMemory();
    const g = gcr3(phys, 1 << 16);
    expect(g.glx).toBe(1);
    const v2 = new V2PageTable(phys, 4);
    v2.mapPage(0x4000n, 0x12_3000n, 12, false);
    v2.mapPage(0x20_0000n, 0x4000_0000n, 21, true);
    setGcr3(phys, g, 0x1234, v2.root);
    const cr3 = walkGcr3(phys, g.root, g.glx, 0x1234, IDENTITY);
    expect(cr3).toEqual({ ok: true, cr3: v2.root });
    expect(walkGcr3(phys, g.root, g.glx, 0x1235, IDENTITY)).toMatchObject({ ok: false, kind: 'not-present' });
    expect(walkGcr3(phys, g.root, g.glx, 1 << 18, IDENTITY)).toMatchObject({ ok: false, kind: 'range' });
    expect(walkV2(phys, v2.root, 4, 0x4321n, IDENTITY)).toMatchObject({
      ok: true,
      gpa: 0x12_3000n,
      write: false,
    });
    expect(walkV2(phys, v2.root, 4, 0x21_2345n, IDENTITY)).toMatchObject({
      ok: true,
      gpa: 0x4000_0000n,
      log2Size: 21,
    });
    expect(walkV2(phys, v2.root, 4, 0x5000n, IDENTITY)).toMatchObject({ ok: false, kind: 'not-present' });
    expect(walkV2(phys, v2.root, 4, 1n << 48n, IDENTITY)).toMatchObject({ ok: false, kind: 'range' });
  });

  test('nested: every guest table fetch and the final GPA go through the host v1 table', () => {
    const phys = new PhysMemory();
    const v2 = new V2PageTable(phys, 4);
    v2.mapPage(0x8000n, 0x100_0000n, 12, true);
    const host = new V1PageTable(phys, 4);
    // The guest tables sit at GPA = SPA; the guest page 0x100_0000 is really at SPA 0x200_0000.
    for (const pfn of phys.allocatedPfns()) host.mapPage(pfn << 12n, pfn << 12n, 12, true, true);
    host.mapPage(0x100_0000n, 0x200_0000n, 12, true, false);
    const toSpa: GpaToSpa = (gpa) => {
      const w = walkV1(phys, host.root, 4, gpa);
      return w.ok ? { ...w, spa: w.pa + (gpa & 0xfffn) } : w;
    };
    const leaf = walkV2(phys, v2.root, 4, 0x8010n, toSpa);
    expect(leaf).toMatchObject({ ok: true, gpa: 0x100_0000n, write: true });
    expect(toSpa(0x100_0010n)).toMatchObject({ ok: true, spa: 0x200_0010n, write: false });
    host.unmap(v2.root, 4096n);
    expect(walkV2(phys, v2.root, 4, 0x8010n, toSpa)).toMatchObject({ ok: false, kind: 'host', at: v2.root });
  });
});
