import { describe, expect, test } from 'vitest';
import { buildInvAll, buildInvDte, buildInvIommuPages } from '../../../../vendors/amd-vi/commands.ts';
import { CLEAR_DTE, type Dte } from '../../../../vendors/amd-vi/dte.ts';
import { gcr3Levels, setGcr3 } from '../../../../vendors/amd-vi/dte-writer.ts';
import { PTE_HA, PTE_HD } from '../../../../vendors/amd-vi/v1-pte.ts';
import { V1PageTable } from '../../../../vendors/amd-vi/v1-table.ts';
import { V2PageTable } from '../../../../vendors/amd-vi/v2-table.ts';
import type { DmaRequest } from '../../../../vendors/hardware.ts';
import { bareIommu, dataPage } from './helpers.ts';

const read = (rid: number, iova: bigint, pasid?: number): DmaRequest => ({ rid, pasid, iova, write: false });

function v1Dte(root: bigint, domainId: number, extra: Partial<Dte> = {}): Dte {
  return { ...CLEAR_DTE, mode: 4, hostRoot: root, ir: true, iw: true, domainId, ...extra };
}

function withTable() {
  const b = bareIommu();
  const table = new V1PageTable(b.phys, 4);
  const pageA = dataPage(b.phys, 0xaa);
  const pageB = dataPage(b.phys, 0xbb);
  table.mapPage(0x1000n, pageA, 12, true, true);
  return { ...b, table, pageA, pageB };
}

describe('IOTLB tagged by DomainID', () => {
  test('a hit survives a PTE change until INVALIDATE_IOMMU_PAGES of that page', async () => {
    const b = withTable();
    b.setDte(0x10, v1Dte(b.table.root, 1));
    expect(b.hw.translate(read(0x10, 0x1008n))).toMatchObject({ ok: true, pa: b.pageA + 8n, cached: false });
    expect(b.hw.translate(read(0x10, 0x1008n))).toMatchObject({ ok: true, pa: b.pageA + 8n, cached: true });
    b.table.unmap(0x1000n, 0x1000n);
    b.table.mapPage(0x1000n, b.pageB, 12, true, true);
    expect(b.hw.translate(read(0x10, 0x1000n))).toMatchObject({ ok: true, pa: b.pageA, cached: true });
    b.submit(buildInvIommuPages(1, undefined, 0x2000n, 0x1000n));
    await b.settle();
    expect(b.hw.translate(read(0x10, 0x1000n))).toMatchObject({ pa: b.pageA, cached: true });
    b.submit(buildInvIommuPages(1, undefined, 0x1000n, 0x1000n));
    await b.settle();
    expect(b.hw.translate(read(0x10, 0x1000n))).toMatchObject({ pa: b.pageB, cached: false });
  });

  test('entries belong to the DomainID, not the device: flushing one domain leaves the other stale', async () => {
    const b = withTable();
    b.setDte(0x10, v1Dte(b.table.root, 1));
    b.setDte(0x11, v1Dte(b.table.root, 2));
    b.hw.translate(read(0x10, 0x1000n));
    b.hw.translate(read(0x11, 0x1000n));
    expect(b.hw.iotlb.size).toBe(2);
    b.table.unmap(0x1000n, 0x1000n);
    b.submit(buildInvIommuPages(1, undefined, 0n, 1n << 40n));
    await b.settle();
    expect(b.hw.translate(read(0x10, 0x1000n))).toMatchObject({ ok: false });
    expect(b.hw.translate(read(0x11, 0x1000n))).toMatchObject({ ok: true, pa: b.pageA, cached: true });
  });

  test('a 2 MiB leaf is one entry serving every 4 KiB inside it', () => {
    const b = withTable();
    const big = b.phys.allocContiguous(512, 512) << 12n;
    b.table.mapPage(0x4000_0000n, big, 21, true, false);
    b.setDte(0x10, v1Dte(b.table.root, 3));
    expect(b.hw.translate(read(0x10, 0x4000_0123n))).toMatchObject({
      pa: big + 0x123n,
      pageSize: 1n << 21n,
      cached: false,
    });
    expect(b.hw.translate(read(0x10, 0x401f_f000n))).toMatchObject({ pa: big + 0x1f_f000n, cached: true });
    expect(b.hw.translate({ ...read(0x10, 0x4000_0000n), write: true })).toMatchObject({ ok: false });
    expect(b.hw.iotlb.size).toBe(1);
  });

  test('dirty tracking: with HAD=3 a write sets HD on the leaf once, a read only HA', () => {
    const b = withTable();
    b.setDte(0x10, v1Dte(b.table.root, 1, { had: 3 }));
    const pte = () => b.table.fetch(0x1000n) as { pte: bigint };
    b.hw.translate(read(0x10, 0x1000n));
    expect(pte().pte & (PTE_HA | PTE_HD)).toBe(PTE_HA);
    b.hw.translate({ ...read(0x10, 0x1000n), write: true });
    expect(pte().pte & PTE_HD).toBe(PTE_HD);
    // Software clears HD without flushing: the IOTLB entry remembers it already set it.
    b.table.readAndClearDirty(0x1000n, 0x1000n, false, () => {});
    b.hw.translate({ ...read(0x10, 0x1000n), write: true });
    expect(pte().pte & PTE_HD).toBe(0n);
  });
});

describe('DTE cache', () => {
  test('a rewritten DTE is not seen until INVALIDATE_DEVTAB_ENTRY', async () => {
    const b = withTable();
    b.setDte(0x10, CLEAR_DTE);
    expect(b.hw.translate(read(0x10, 0x1000n))).toMatchObject({ ok: false, fault: { reason: 'blocked' } });
    b.setDte(0x10, v1Dte(b.table.root, 1));
    expect(b.hw.translate(read(0x10, 0x1000n))).toMatchObject({ ok: false, fault: { reason: 'blocked' } });
    b.submit(buildInvDte(0x11));
    await b.settle();
    expect(b.hw.translate(read(0x10, 0x1000n)).ok).toBe(false);
    b.submit(buildInvDte(0x10));
    await b.settle();
    expect(b.hw.translate(read(0x10, 0x1000n))).toMatchObject({ ok: true, pa: b.pageA });
  });

  test('INVALIDATE_IOMMU_ALL empties the IOTLB and the DTE cache', async () => {
    const b = withTable();
    b.setDte(0x10, v1Dte(b.table.root, 1));
    b.hw.translate(read(0x10, 0x1000n));
    expect([b.hw.iotlb.size, b.hw.dteCache.size]).toEqual([1, 1]);
    b.submit(buildInvAll());
    await b.settle();
    expect([b.hw.iotlb.size, b.hw.dteCache.size]).toEqual([0, 0]);
  });
});

describe('guest (GCR3/v2) translations tagged DomainID + PASID', () => {
  function guest() {
    const b = bareIommu();
    const g = {
      root: b.phys.allocPage() << 12n,
      glx: gcr3Levels(256),
      domid: 7,
      pages: [],
      pasids: new Map(),
    };
    const v2 = new V2PageTable(b.phys, 4);
    const page = dataPage(b.phys, 0xcc);
    v2.mapPage(0x5000n, page, 12, true);
    setGcr3(b.phys, g, 3, v2.root);
    setGcr3(b.phys, g, 4, v2.root);
    b.setDte(0x20, { ...CLEAR_DTE, gv: true, glx: g.glx, gcr3Root: g.root, domainId: 7 });
    return { ...b, v2, page };
  }

  test('GN=1 invalidates one PASID; GN=0 on the DomainID drops its guest entries too', async () => {
    const b = guest();
    expect(b.hw.translate(read(0x20, 0x5000n, 3))).toMatchObject({ ok: true, pa: b.page, cached: false });
    expect(b.hw.translate(read(0x20, 0x5000n, 4))).toMatchObject({ ok: true, cached: false });
    expect(b.hw.translate(read(0x20, 0x5000n))).toMatchObject({ ok: false, fault: { reason: 'blocked' } });
    b.submit(buildInvIommuPages(7, 4, 0x5000n, 0x1000n));
    await b.settle();
    expect(b.hw.translate(read(0x20, 0x5000n, 3)).ok && b.hw.iotlb.entries().map((e) => e.pasid)).toEqual([
      3,
    ]);
    b.submit(buildInvIommuPages(7, undefined, 0x9000n, 0x1000n));
    await b.settle();
    expect(b.hw.iotlb.size).toBe(0);
  });

  test('a PASID without a GCR3 entry faults with GN set and the PASID in the record', () => {
    const b = guest();
    const r = b.hw.translate(read(0x20, 0x5000n, 9));
    expect(r).toMatchObject({
      ok: false,
      fault: { reason: 'not-present', record: { pasid: 9, flags: 0x1 } },
    });
  });
});
