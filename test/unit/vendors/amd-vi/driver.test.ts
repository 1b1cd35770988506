import { describe, expect, test } from 'vitest';
import { IommufdError } from '../../../../actors/iommufd/errno.ts';
import {
  IOMMU_HW_INFO_TYPE_AMD,
  IOMMU_HW_INFO_TYPE_INTEL_VTD,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
} from '../../../../actors/iommufd/uapi-iommufd.ts';
import type { FarmEvent } from '../../../../actors/runtime/trace.ts';
import { createFarm } from '../../../../index.ts';
import type { AmdV1Domain } from '../../../../vendors/amd-vi/domain-v1.ts';
import { DTE_SIZE } from '../../../../vendors/amd-vi/dte.ts';
import type { AmdViDriver, AmdViHardware } from '../../../../vendors/amd-vi/index.ts';
import { encodeLeaf, encodePde } from '../../../../vendors/amd-vi/v1-pte.ts';
import { IOMMU_READ, IOMMU_WRITE } from '../../../../vendors/driver.ts';

function farmWith(options: Record<string, unknown> = {}, dev: { ats?: boolean; pasidBits?: number } = {}) {
  const farm = createFarm({ seed: 2 });
  const host = farm.addHost({ name: 'h0' });
  const iommu = host.addIommu({ name: 'amd0', vendor: 'amd-vi', ...options });
  const device = host.addDevice({ name: 'nic0', iommu: 'amd0', bdf: '0000:05:00.0', ...dev });
  const cmds: string[] = [];
  const words: string[] = [];
  farm.events$.subscribe((e: FarmEvent) => {
    if (e.type !== 'cmd') return;
    cmds.push(e.opcode);
    words.push(e.detail ?? '');
  });
  return {
    farm,
    host,
    device,
    driver: iommu.driver as AmdViDriver,
    hw: iommu.hw as AmdViHardware,
    cmds,
    words,
  };
}

function errno(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (IommufdError.is(err)) return err.errno;
    throw err;
  }
  return undefined;
}

describe('amd-vi driver: boot and iommu_ops', () => {
  test('boot: every DTE blocks (V=1, TV=1), then INVALIDATE_IOMMU_ALL + COMPLETION_WAIT', async () => {
    const s = farmWith();
    await s.farm.settle();
    expect(s.cmds).toEqual(['INVALIDATE_IOMMU_ALL', 'COMPLETION_WAIT']);
    for (const devid of [0, 0x500, 0xffff])
      expect(s.host.phys.readU64(s.driver.devTable + BigInt(devid * DTE_SIZE))).toBe(3n);
  });

  test('without EFR.IA the boot flush is one INVALIDATE_DEVTAB_ENTRY per DeviceID', async () => {
    const s = farmWith({ invalidateAll: false, deviceIds: 64 });
    await s.farm.settle();
    expect(s.cmds.length).toBe(65);
    expect(s.cmds.filter((c) => c === 'INVALIDATE_DEVTAB_ENTRY').length).toBe(64);
  });

  test('capabilities, PASIDs, hw_info and reserved regions', () => {
    const s = farmWith({}, { ats: true, pasidBits: 20 });
    const dev = s.device.ref;
    expect(s.driver.capable(dev, 'CACHE_COHERENCY')).toBe(true);
    expect(s.driver.capable(dev, 'DIRTY_TRACKING')).toBe(true);
    expect(s.driver.capable(dev, 'PCI_ATS_SUPPORTED')).toBe(true);
    expect(farmWith({ dirty: false }).driver.capable(dev, 'DIRTY_TRACKING')).toBe(false);
    expect(s.driver.maxPasids(dev)).toBe(0xffff);
    expect(farmWith({ pasid: false }).driver.maxPasids(dev)).toBe(0);
    expect(s.driver.hwInfo(dev, 0)).toMatchObject({ type: IOMMU_HW_INFO_TYPE_AMD });
    expect(s.driver.hwInfo(dev, 0).data.length).toBe(16);
    expect(errno(() => s.driver.hwInfo(dev, IOMMU_HW_INFO_TYPE_INTEL_VTD))).toBe('EOPNOTSUPP');
    expect(s.driver.resvRegions(dev)).toEqual([
      { start: 0xfee0_0000n, length: 0x10_0000n, type: 'msi' },
      { start: 0xfd_0000_0000n, length: 0x3_0000_0000n, type: 'reserved' },
    ]);
  });

  test('domain_alloc_paging_flags: v1 by default and for dirty/nest-parent, v2 for PASID, EOPNOTSUPP otherwise', () => {
    const s = farmWith();
    const dev = s.device.ref;
    const d0 = s.driver.domainAllocPaging(dev, 0, undefined) as AmdV1Domain;
    expect([d0.pgtable, d0.id, d0.dirty]).toEqual(['v1', 1, undefined]);
    expect(d0.aperture).toEqual({ start: 0n, end: (1n << 48n) - 1n });
    expect(d0.pgsizeBitmap & (1n << 39n)).toBe(0n);
    expect(d0.pgsizeBitmap & ((1n << 12n) | (1n << 16n) | (1n << 21n) | (1n << 30n))).toBe(0x4021_1000n);
    const dirty = s.driver.domainAllocPaging(dev, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, undefined);
    expect(dirty.dirty).toBeDefined();
    expect(s.driver.domainAllocPaging(dev, IOMMU_HWPT_ALLOC_NEST_PARENT, undefined).nestParent).toBe(true);
    const v2 = s.driver.domainAllocPaging(dev, IOMMU_HWPT_ALLOC_PASID, undefined) as AmdV1Domain;
    expect([v2.pgtable, v2.pgsizeBitmap]).toEqual(['v2', (1n << 12n) | (1n << 21n) | (1n << 30n)]);
    expect(
      errno(() =>
        s.driver.domainAllocPaging(dev, IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_ALLOC_DIRTY_TRACKING, undefined),
      ),
    ).toBe('EOPNOTSUPP');
    expect(errno(() => s.driver.domainAllocPaging(dev, 1 << 7, undefined))).toBe('EOPNOTSUPP');
    const data = { type: 0, len: 0, read: () => new Uint8Array() };
    expect(errno(() => s.driver.domainAllocPaging(dev, 0, data))).toBe('EOPNOTSUPP');
    expect(
      errno(() =>
        farmWith({ dirty: false }).driver.domainAllocPaging(dev, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, undefined),
      ),
    ).toBe('EOPNOTSUPP');
    expect(
      errno(() =>
        farmWith({ pasid: false }).driver.domainAllocPaging(dev, IOMMU_HWPT_ALLOC_PASID, undefined),
      ),
    ).toBe('EOPNOTSUPP');
  });
});

describe('amd-vi driver: paging', () => {
  test('map writes the v1 table bit for bit (PM_LEVEL_PDE, 64 KiB NextLevel 7, 2 MiB)', () => {
    const s = farmWith();
    const d = s.driver.domainAllocPaging(s.device.ref, 0, undefined) as AmdV1Domain;
    const big = s.host.phys.allocContiguous(512, 512) << 12n;
    d.map(0x4020_0000n, big, 1n << 21n, IOMMU_READ | IOMMU_WRITE);
    d.map(0x1_0000n, big, 0x1_0000n, IOMMU_READ);
    const phys = s.host.phys;
    const l4 = phys.readU64(d.root);
    expect(l4 & 0xfffn).toBe(0x601n);
    expect(l4 >> 61n).toBe(3n);
    const l3 = phys.readU64((l4 & ~0xfffn & ((1n << 52n) - 1n)) + 1n * 8n);
    expect(l3 & 0xfffn).toBe(0x401n);
    const l2 = (l3 & ~0xfffn & ((1n << 52n) - 1n)) + 1n * 8n;
    expect(phys.readU64(l2)).toBe(encodeLeaf(big, 21, true, true));
    expect(d.iovaToPhys(0x4021_2345n)).toBe(big + 0x1_2345n);
    expect(d.iovaToPhys(0x1_8000n)).toBe(big + 0x8000n);
    const f = d.table.fetch(0x1_0000n);
    expect(f.present && [f.log2Size, f.pte]).toEqual([16, encodeLeaf(big, 16, true, false)]);
    expect(encodePde(3, 0n) & 0xe00n).toBe(0x600n);
    expect(() => d.map(0x1_0000n, big, 0x1000n, IOMMU_READ)).toThrow();
  });

  test('unmap: INVALIDATE_IOMMU_PAGES (PDE, one power-of-two range) + IOTLB_PAGES for ATS + COMPLETION_WAIT', async () => {
    const s = farmWith({}, { ats: true });
    const d = s.driver.domainAllocPaging(s.device.ref, 0, undefined) as AmdV1Domain;
    await d.attachDev(s.device.ref, undefined, undefined);
    await s.farm.settle();
    s.cmds.length = 0;
    const pa = s.host.phys.allocContiguous(4, 4) << 12n;
    d.map(0x3000n, pa, 0x3000n, IOMMU_READ);
    s.words.length = 0;
    await d.unmap(0x3000n, 0x3000n);
    expect(s.cmds).toEqual(['INVALIDATE_IOMMU_PAGES', 'INVALIDATE_IOTLB_PAGES', 'COMPLETION_WAIT']);
    // [0x3000, 0x6000) as the 32 KiB range at 0 (S=1, PDE=1), DomainID 1; the ATS flush to 05:00.0.
    expect(s.words.slice(0, 2)).toEqual([
      '00000000 30000001 00003003 00000000',
      '20000500 40000500 00003001 00000000',
    ]);
    expect(s.words[2]!.split(' ')[1]!.startsWith('1')).toBe(true);
    expect(d.iovaToPhys(0x3000n)).toBeUndefined();
  });

  test('with NpCache the range goes out in naturally aligned pieces before one COMPLETION_WAIT', async () => {
    const s = farmWith({ npCache: true });
    const d = s.driver.domainAllocPaging(s.device.ref, 0, undefined) as AmdV1Domain;
    await d.attachDev(s.device.ref, undefined, undefined);
    await s.farm.settle();
    s.cmds.length = 0;
    await d.unmap(0x3000n, 0x3000n);
    expect(s.cmds).toEqual(['INVALIDATE_IOMMU_PAGES', 'INVALIDATE_IOMMU_PAGES', 'COMPLETION_WAIT']);
  });

  test('attach: DTE + INVALIDATE_DEVTAB_ENTRY + wait; replace also flushes the old domain', async () => {
    const s = farmWith();
    const a = s.driver.domainAllocPaging(s.device.ref, 0, undefined) as AmdV1Domain;
    const b = s.driver.domainAllocPaging(s.device.ref, 0, undefined) as AmdV1Domain;
    await s.farm.settle();
    s.cmds.length = 0;
    await a.attachDev(s.device.ref, undefined, undefined);
    expect(s.cmds).toEqual(['INVALIDATE_DEVTAB_ENTRY', 'COMPLETION_WAIT']);
    const q0 = s.host.phys.readU64(s.driver.devTable + 0x500n * 32n);
    expect(q0).toBe(3n | (4n << 9n) | a.root | (3n << 61n));
    expect(s.host.phys.readU64(s.driver.devTable + 0x500n * 32n + 8n)).toBe(BigInt(a.id));
    s.cmds.length = 0;
    await b.attachDev(s.device.ref, undefined, a);
    expect(s.cmds).toEqual([
      'INVALIDATE_DEVTAB_ENTRY',
      'COMPLETION_WAIT',
      'INVALIDATE_IOMMU_PAGES',
      'COMPLETION_WAIT',
    ]);
    expect([a.devices.size, b.devices.size]).toEqual([0, 1]);
  });

  test('a PASID needs a v2 domain and a RID that is not v1', async () => {
    const s = farmWith({}, { pasidBits: 8 });
    const dev = s.device.ref;
    const v1 = s.driver.domainAllocPaging(dev, 0, undefined);
    const v2 = s.driver.domainAllocPaging(dev, IOMMU_HWPT_ALLOC_PASID, undefined);
    await expect(v1.attachDev(dev, 3, undefined)).rejects.toMatchObject({ errno: 'EINVAL' });
    await v1.attachDev(dev, undefined, undefined);
    await expect(v2.attachDev(dev, 3, undefined)).rejects.toMatchObject({ errno: 'EINVAL' });
    await v2.attachDev(dev, undefined, v1);
    await v2.attachDev(dev, 3, undefined);
    const dd = s.driver.devData(dev);
    expect([...dd.gcr3!.pasids.keys()].sort()).toEqual([0, 3]);
    await expect(v1.attachDev(dev, undefined, v2)).rejects.toMatchObject({ errno: 'EINVAL' });
    await s.driver.blockedDomain.attachDev(dev, 3, v2);
    await s.driver.blockedDomain.attachDev(dev, undefined, v2);
    expect(dd.gcr3).toBeUndefined();
    expect(s.host.phys.readU64(s.driver.devTable + 0x500n * 32n)).toBe(3n);
  });

  test('dirty tracking sets DTE.HAD and flushes; read_and_clear reports replicated large pages once', async () => {
    const s = farmWith();
    const d = s.driver.domainAllocPaging(
      s.device.ref,
      IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
      undefined,
    ) as AmdV1Domain;
    await d.attachDev(s.device.ref, undefined, undefined);
    const pa = s.host.phys.allocContiguous(16, 16) << 12n;
    d.map(0x10_0000n, pa, 0x1_0000n, IOMMU_READ | IOMMU_WRITE);
    await s.farm.settle();
    s.cmds.length = 0;
    await d.dirty!.setTracking(true);
    expect(s.cmds).toEqual(['INVALIDATE_DEVTAB_ENTRY', 'INVALIDATE_IOMMU_PAGES', 'COMPLETION_WAIT']);
    expect((s.host.phys.readU64(s.driver.devTable + 0x500n * 32n) >> 7n) & 3n).toBe(3n);
    s.hw.translate({ rid: 0x500, pasid: undefined, iova: 0x10_8000n, write: true });
    const seen: Array<[bigint, bigint]> = [];
    await d.dirty!.readAndClear(0x10_0000n, 0x1_0000n, false, (i, n) => seen.push([i, n]));
    expect(seen).toEqual([[0x10_0000n, 0x1_0000n]]);
    seen.length = 0;
    await d.dirty!.readAndClear(0x10_0000n, 0x1_0000n, false, (i, n) => seen.push([i, n]));
    expect(seen).toEqual([]);
  });
});
