import { fc, test as ftest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { PhysMemory } from '../../../../actors/mem/phys-memory.ts';
import { IoPgtable } from '../../../../vendors/arm-smmuv3/io-pgtable.ts';
import {
  ARM_LPAE_PTE_AF,
  ARM_LPAE_PTE_AP_RDONLY,
  ARM_LPAE_PTE_DBM,
  ARM_LPAE_PTE_TYPE_BLOCK,
  startLevelFor,
  type WalkConfig,
  walk,
} from '../../../../vendors/arm-smmuv3/lpae.ts';
import { IOMMU_READ, IOMMU_WRITE } from '../../../../vendors/driver.ts';

const RW = IOMMU_READ | IOMMU_WRITE;
const READ = { write: false, exec: false, priv: false };
const WRITE = { write: true, exec: false, priv: false };
const SZ_2M = 1n << 21n;
const SZ_1G = 1n << 30n;

function cfgOf(t: IoPgtable, over: Partial<WalkConfig> = {}): WalkConfig {
  return {
    root: t.root,
    startLevel: t.startLevel,
    ias: t.ias,
    oas: 48,
    stage: t.stage,
    ha: false,
    hd: false,
    ...over,
  };
}

describe('io-pgtable (VMSAv8-64, 4K granule) and the hardware walk', () => {
  test('48-bit input starts at level 0; 39-bit at level 1', () => {
    expect(startLevelFor(48)).toBe(0);
    expect(startLevelFor(39)).toBe(1);
    expect(startLevelFor(30)).toBe(2);
  });

  test('map picks 4K pages, 2M and 1G blocks by alignment; the walk sees the same leaves', () => {
    const phys = new PhysMemory();
    const t = new IoPgtable(phys, 1, 48, false);
    t.map(0x1000n, 0x5000n, 0x1000n, RW);
    t.map(SZ_2M * 3n, SZ_2M * 7n, SZ_2M, RW);
    t.map(SZ_1G * 2n, SZ_1G * 5n, SZ_1G, IOMMU_READ);
    const w4k = walk(phys, cfgOf(t), 0x1234n, READ);
    expect(w4k).toMatchObject({ ok: true, oa: 0x5000n, pageSize: 4096n, level: 3 });
    const w2m = walk(phys, cfgOf(t), SZ_2M * 3n + 0x12345n, READ);
    expect(w2m).toMatchObject({ ok: true, oa: SZ_2M * 7n, pageSize: SZ_2M, level: 2 });
    const w1g = walk(phys, cfgOf(t), SZ_1G * 2n + 5n, READ);
    expect(w1g).toMatchObject({ ok: true, oa: SZ_1G * 5n, pageSize: SZ_1G, level: 1, write: false });
    expect(walk(phys, cfgOf(t), SZ_1G * 2n, WRITE)).toMatchObject({
      ok: false,
      kind: 'permission',
      level: 1,
    });
    expect(walk(phys, cfgOf(t), 0x3000n, READ)).toMatchObject({ ok: false, kind: 'translation' });
    expect(t.iovaToPhys(SZ_2M * 3n + 0x10n)).toBe(SZ_2M * 7n + 0x10n);
  });

  test('stage-1 leaf descriptors: AF, nG, AP[1] (EL0), AP[2] for read-only, block type at level 2', () => {
    const phys = new PhysMemory();
    const t = new IoPgtable(phys, 1, 48, false);
    t.map(0n, SZ_2M, SZ_2M, IOMMU_READ);
    const l0 = phys.readU64(t.root);
    const l1 = phys.readU64((l0 & ~0xfffn & ((1n << 48n) - 1n)) + 0n);
    const l2 = phys.readU64(l1 & ~0xfffn & ((1n << 48n) - 1n));
    expect(l2 & 3n).toBe(ARM_LPAE_PTE_TYPE_BLOCK);
    expect(l2 & ARM_LPAE_PTE_AF).not.toBe(0n);
    expect(l2 & (1n << 11n)).not.toBe(0n); // nG
    expect(l2 & (1n << 6n)).not.toBe(0n); // AP[1]
    expect(l2 & ARM_LPAE_PTE_AP_RDONLY).not.toBe(0n);
    expect(l2 & ((1n << 48n) - 1n) & ~0xfffn).toBe(SZ_2M);
  });

  test('unmap clears leaves and frees tables it covers whole', () => {
    const phys = new PhysMemory();
    const t = new IoPgtable(phys, 1, 48, false);
    t.map(SZ_2M, SZ_2M * 9n, SZ_2M, RW);
    for (let i = 0n; i < 512n; i++) t.map(SZ_2M * 4n + i * 4096n, 0x100000n + i * 4096n, 4096n, RW);
    const tables = t.tablePages;
    const steps = t.unmap(SZ_2M, SZ_2M * 2n);
    expect(steps).toEqual([{ kind: 'leaf', iova: SZ_2M, size: SZ_2M }]);
    const more = t.unmap(SZ_2M * 4n, SZ_2M);
    expect(more).toHaveLength(1);
    expect(more[0]!.kind).toBe('table');
    t.freeTables((more[0] as { pfns: readonly bigint[] }).pfns);
    expect(t.tablePages).toBe(tables - 1);
    expect(walk(phys, cfgOf(t), SZ_2M * 4n, READ)).toMatchObject({
      ok: false,
      kind: 'translation',
      level: 2,
    });
  });

  test('HTTU: AF=0 faults without HA and is set with HA; DBM pages get dirty on write with HD', () => {
    const phys = new PhysMemory();
    const t = new IoPgtable(phys, 1, 48, true);
    t.map(0x4000n, 0x9000n, 4096n, RW);
    const leafPa = (): bigint => {
      let table = t.root;
      for (let l = 0; l < 3; l++) table = phys.readU64(table) & ((1n << 48n) - 1n) & ~0xfffn;
      return table + 4n * 8n;
    };
    const pte = phys.readU64(leafPa());
    expect(pte & ARM_LPAE_PTE_DBM).not.toBe(0n);
    // Writable pages start dirty (DBM set, AP[2] clear); read-and-clear makes them clean.
    const dirty: Array<[bigint, bigint]> = [];
    t.readAndClearDirty(0n, 0x10000n, false, (a, s) => dirty.push([a, s]));
    expect(dirty).toEqual([[0x4000n, 4096n]]);
    expect(phys.readU64(leafPa()) & ARM_LPAE_PTE_AP_RDONLY).not.toBe(0n);
    // Without HD a write to the clean page is a permission fault; with HD it marks it dirty.
    expect(walk(phys, cfgOf(t), 0x4000n, WRITE)).toMatchObject({ ok: false, kind: 'permission' });
    expect(walk(phys, cfgOf(t, { ha: true, hd: true }), 0x4000n, WRITE)).toMatchObject({
      ok: true,
      write: true,
    });
    const again: bigint[] = [];
    t.readAndClearDirty(0n, 0x10000n, true, (a) => again.push(a));
    expect(again).toEqual([0x4000n]);
    phys.writeU64(leafPa(), phys.readU64(leafPa()) & ~ARM_LPAE_PTE_AF);
    expect(walk(phys, cfgOf(t), 0x4000n, READ)).toMatchObject({ ok: false, kind: 'access' });
    expect(walk(phys, cfgOf(t, { ha: true }), 0x4000n, READ)).toMatchObject({ ok: true });
    expect(phys.readU64(leafPa()) & ARM_LPAE_PTE_AF).not.toBe(0n);
  });

  test('stage 2: S2AP read/write bits; output beyond OAS is an address-size fault; bad table is an abort', () => {
    const phys = new PhysMemory();
    const t = new IoPgtable(phys, 2, 48, false);
    t.map(0x10000n, 0x20000n, 4096n, IOMMU_READ);
    expect(walk(phys, cfgOf(t), 0x10000n, READ)).toMatchObject({ ok: true, oa: 0x20000n });
    expect(walk(phys, cfgOf(t), 0x10000n, WRITE)).toMatchObject({ ok: false, kind: 'permission' });
    expect(walk(phys, cfgOf(t, { oas: 16 }), 0x10000n, READ)).toMatchObject({ ok: false, kind: 'addr-size' });
    phys.writeU64(t.root, (0x7fff_0000_0000n & ~0xfffn) | 3n);
    expect(walk(phys, cfgOf(t), 0x10000n, READ)).toMatchObject({ ok: false, kind: 'eabt', level: 1 });
  });

  ftest.prop(
    [
      fc.array(fc.tuple(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 1, max: 4 })), {
        minLength: 1,
        maxLength: 8,
      }),
    ],
    { numRuns: 30 },
  )('the hardware walk agrees with iova_to_phys on every mapped and unmapped page', (runs) => {
    const phys = new PhysMemory();
    const t = new IoPgtable(phys, 1, 48, false);
    const mapped = new Map<bigint, bigint>();
    for (const [slot, n] of runs) {
      const iova = BigInt(slot) << 21n;
      if (mapped.has(iova)) continue;
      const pa = (BigInt(slot + 1) << 21n) + (n > 2 ? 0n : 0x3000n);
      const size = n > 2 ? SZ_2M : BigInt(n) * 4096n;
      t.map(iova, pa, size, RW);
      for (let off = 0n; off < size; off += 4096n) mapped.set(iova + off, pa + off);
    }
    for (const [slot] of runs) {
      for (const off of [0n, 4096n, 8192n, SZ_2M - 4096n]) {
        const iova = (BigInt(slot) << 21n) + off;
        const w = walk(phys, cfgOf(t), iova, READ);
        const want = t.iovaToPhys(iova);
        expect(w.ok ? w.oa + (iova & (w.pageSize - 1n)) : undefined).toBe(want);
        if (mapped.has(iova)) expect(want).toBe(mapped.get(iova));
      }
    }
  });
});
