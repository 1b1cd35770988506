import { describe, expect, test } from 'vitest';
import {
  IOMMU_HW_INFO_TYPE_ARM_SMMUV3,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
} from '../../../../actors/iommufd/uapi-iommufd.ts';
import { PGTT_FL_ONLY, PGTT_SL_ONLY } from '../../../../vendors/intel-vtd/entries.ts';
import type { RawDesc } from '../../../../vendors/intel-vtd/qi-encode.ts';
import { DMAR_GSTS_REG, DMAR_RTADDR_REG } from '../../../../vendors/intel-vtd/regs.ts';
import { attachedDomain, dataPage, RW, read, vtdFarm, vtdRecord } from './helpers.ts';

/** Descriptor types of each submission (the trailing 5 is the wait). */
const shapes = (log: RawDesc[][]) => log.map((sub) => sub.map((d) => Number(d[0] & 0xfn)));
const userData = (type: number, bytes: Uint8Array) => ({ type, len: bytes.length, read: () => bytes });

describe('boot and capabilities', () => {
  test('boot: scalable root table, QI and translation on, three global flushes', async () => {
    const env = vtdFarm();
    await env.driver.ready;
    expect(env.hw.regs.read64(DMAR_RTADDR_REG)).toBe(env.driver.rootTable | (1n << 10n));
    expect(env.hw.regs.read32(DMAR_GSTS_REG) >>> 0).toBe(((1 << 31) | (1 << 30) | (1 << 26)) >>> 0);
    expect(shapes(env.driver.qi.log)).toEqual([
      [1, 5],
      [7, 5],
      [2, 5],
    ]);
  });

  test('capable, max PASIDs, the MSI window, hw_info type checks', () => {
    const env = vtdFarm({ pasidBits: 8, ats: true });
    const d = env.driver;
    const ref = env.dev.ref;
    expect(d.capable(ref, 'CACHE_COHERENCY')).toBe(true);
    expect(d.capable(ref, 'DIRTY_TRACKING')).toBe(true);
    expect(d.capable(ref, 'PCI_ATS_SUPPORTED')).toBe(true);
    expect(d.maxPasids(ref)).toBe(256);
    expect(d.resvRegions(ref)).toEqual([{ start: 0xfee0_0000n, length: 0x10_0000n, type: 'msi' }]);
    expect(() => d.hwInfo(ref, IOMMU_HW_INFO_TYPE_ARM_SMMUV3)).toThrow(
      expect.objectContaining({ errno: 'EOPNOTSUPP' }),
    );
    const noDirty = vtdFarm({ iommu: { ssads: false } });
    expect(noDirty.driver.capable(noDirty.dev.ref, 'DIRTY_TRACKING')).toBe(false);
  });

  test('domain_alloc_paging: flags, user data and features are checked in the kernel order', () => {
    const env = vtdFarm();
    const alloc = (flags: number, data?: Uint8Array) =>
      env.driver.domainAllocPaging(env.dev.ref, flags, data ? userData(1, data) : undefined);
    expect(() => alloc(1 << 7)).toThrow(expect.objectContaining({ errno: 'EOPNOTSUPP' }));
    expect(() => alloc(0, new Uint8Array(24))).toThrow(expect.objectContaining({ errno: 'EOPNOTSUPP' }));
    const fs = alloc(0) as unknown as {
      useFirstLevel: boolean;
      aperture: { end: bigint };
      pgsizeBitmap: bigint;
    };
    expect(fs.useFirstLevel).toBe(true);
    expect(fs.aperture.end).toBe((1n << 47n) - 1n);
    expect(fs.pgsizeBitmap).toBe((1n << 12n) | (1n << 21n) | (1n << 30n));
    const ss = alloc(IOMMU_HWPT_ALLOC_DIRTY_TRACKING) as unknown as {
      useFirstLevel: boolean;
      aperture: { end: bigint };
    };
    expect(ss.useFirstLevel).toBe(false);
    expect(ss.aperture.end).toBe((1n << 48n) - 1n);
    const noNest = vtdFarm({ iommu: { nest: false, ssads: false } });
    expect(() =>
      noNest.driver.domainAllocPaging(noNest.dev.ref, IOMMU_HWPT_ALLOC_NEST_PARENT, undefined),
    ).toThrow(expect.objectContaining({ errno: 'EOPNOTSUPP' }));
    expect(() =>
      noNest.driver.domainAllocPaging(noNest.dev.ref, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, undefined),
    ).toThrow(expect.objectContaining({ errno: 'EOPNOTSUPP' }));
  });

  test('a device behind another IOMMU is EINVAL (so an auto-domain search moves on)', async () => {
    const env = vtdFarm();
    env.host.addIommu({ name: 'dmar1', vendor: 'intel-vtd' });
    const other = env.host.addDevice({ name: 'nvme', iommu: 'dmar1', bdf: '0000:40:00.0' });
    const domain = env.driver.domainAllocPaging(env.dev.ref, 0, undefined);
    await expect(domain.attachDev(other.ref, undefined, undefined)).rejects.toMatchObject({
      errno: 'EINVAL',
    });
  });
});

describe('attach, replace, detach', () => {
  test('attach writes the context entry (DTE for ATS) and a first-stage PASID entry for RID_PASID', async () => {
    const env = vtdFarm({ ats: true });
    const { domain } = await attachedDomain(env);
    const info = env.driver.probe(env.dev.ref);
    const pe = info.readEntry(0)!;
    expect(pe).toMatchObject({
      p: true,
      pgtt: PGTT_FL_ONLY,
      did: domain.did,
      fsptptr: domain.pt.root,
      fpd: false,
    });
    const ctxTable = env.phys.readU64(env.driver.rootTable + 2n * 16n) & ~0xfffn;
    const lo = env.phys.readU64(ctxTable);
    expect(lo & 0x1fn).toBe(0b00101n); // P, DTE; no PASID, no PRE
    expect(lo & ~0xfffn).toBe(info.dirPa);
    // Not-present → present needs no invalidation with CM=0.
    expect(env.driver.qi.log).toHaveLength(3);
  });

  test('replace: the entry changes in place, then pc, p_iotlb and dev-TLB of the old DID', async () => {
    const env = vtdFarm({ ats: true });
    const a = await attachedDomain(env);
    const b = env.driver.domainAllocPaging(env.dev.ref, IOMMU_HWPT_ALLOC_NEST_PARENT, undefined);
    b.map(a.iova, dataPage(env.phys, 0x99), 4096n, RW);
    await read(env.dev, a.iova);
    const oldDid = a.domain.did!;
    const n = env.driver.qi.log.length;
    await b.attachDev(env.dev.ref, undefined, a.domain);
    const subs = env.driver.qi.log.slice(n);
    expect(shapes(subs)).toEqual([
      [7, 5],
      [6, 5],
      [3, 5],
    ]);
    expect(Number((subs[0]![0]![0] >> 16n) & 0xffffn)).toBe(oldDid);
    expect(a.domain.did).toBeUndefined(); // released with its last attachment
    const r = await read(env.dev, a.iova);
    expect(r.ok && r.data![0]).toBe(0x99);
    expect(env.driver.probe(env.dev.ref).readEntry(0)).toMatchObject({ pgtt: PGTT_SL_ONLY });
  });

  test('blocked: PASID entry cleared, then pc, IOTLB (p_iotlb for first stage, DSI for second), dev-TLB', async () => {
    for (const [flags, iotlbType] of [
      [0, 6],
      [IOMMU_HWPT_ALLOC_NEST_PARENT, 2],
    ] as const) {
      const env = vtdFarm({ ats: true });
      const { domain, iova } = await attachedDomain(env, { flags });
      await read(env.dev, iova);
      const did = domain.did!;
      const n = env.driver.qi.log.length;
      await env.driver.blockedDomain.attachDev(env.dev.ref, undefined, domain);
      expect(shapes(env.driver.qi.log.slice(n))).toEqual([
        [7, 5],
        [iotlbType, 5],
        [3, 5],
      ]);
      expect(Number((env.driver.qi.log[n]![0]![0] >> 16n) & 0xffffn)).toBe(did);
      const r = await read(env.dev, iova);
      expect(!r.ok && r.fault).toMatchObject({ reason: 'blocked', record: { fr: 0x59 } });
      expect(env.dev.atc!.size).toBe(0);
    }
  });

  test('PASID attach: its own PASID entry; PASID DMA uses it; flushes use p_dev_tlb', async () => {
    const env = vtdFarm({ ats: true, pasidBits: 8 });
    const rid = await attachedDomain(env);
    const d = env.driver.domainAllocPaging(env.dev.ref, 0, undefined);
    await d.attachDev(env.dev.ref, 5, undefined);
    d.map(rid.iova, dataPage(env.phys, 0x55), 4096n, RW);
    const rp = await read(env.dev, rid.iova, 5);
    const rr = await read(env.dev, rid.iova);
    expect([rp.ok && rp.data![0], rr.ok && rr.data![0]]).toEqual([0x55, 0x40]);
    const n = env.driver.qi.log.length;
    await d.unmap(rid.iova, 4096n);
    expect(shapes(env.driver.qi.log.slice(n))).toEqual([[6, 8, 5]]);
    expect(Number((env.driver.qi.log[n]![0]![0] >> 32n) & 0xfffffn)).toBe(5);
    const after = await read(env.dev, rid.iova, 5);
    expect(!after.ok && after.fault).toMatchObject({ reason: 'not-present', pasid: 5 });
    await expect(d.attachDev(env.dev.ref, 0, undefined)).rejects.toMatchObject({ errno: 'EINVAL' });
    await expect(d.attachDev(env.dev.ref, 256, undefined)).rejects.toMatchObject({ errno: 'EINVAL' });
    const noPasid = vtdFarm();
    const d2 = noPasid.driver.domainAllocPaging(noPasid.dev.ref, 0, undefined);
    await expect(d2.attachDev(noPasid.dev.ref, 3, undefined)).rejects.toMatchObject({ errno: 'EOPNOTSUPP' });
  });

  test('a PASID DMA from a device whose context has PASIDE clear faults 0x45', async () => {
    const env = vtdFarm({ pasidBits: 8, iommu: { pasidBits: 0 } });
    const { iova } = await attachedDomain(env);
    const r = await read(env.dev, iova, 3);
    expect(vtdRecord(r)).toMatchObject({ fr: 0x45 });
  });
});

describe('map and unmap', () => {
  test('unmap: IH=1 when no table page was freed; a whole emptied table is freed after the flush with IH=0', async () => {
    const env = vtdFarm();
    const { domain, iova } = await attachedDomain(env, { pages: 2 });
    const n = env.driver.qi.log.length;
    await domain.unmap(iova, 4096n);
    expect((env.driver.qi.log[n]![0]![1] >> 6n) & 1n).toBe(1n);
    // 2 MiB of 4 KiB pages (the PA is not 2 MiB aligned): unmapping all of it frees the PT.
    const pa = (env.phys.allocContiguous(513, 1) << 12n) + 4096n;
    domain.map(0x60_0000n, pa, 0x20_0000n, RW);
    const tables = domain.pt.tablePages;
    const frames = env.phys.stats().allocatedFrames;
    await domain.unmap(0x60_0000n, 0x20_0000n);
    const last = env.driver.qi.log.at(-1)![0]!;
    expect((last[1] >> 6n) & 1n).toBe(0n);
    expect(last[1] & 0x3fn).toBe(9n);
    expect(domain.pt.tablePages).toBe(tables - 1);
    expect(env.phys.stats().allocatedFrames).toBe(frames - 1);
    expect(domain.iovaToPhys(0x60_0000n)).toBeUndefined();
  });

  test('a 2 MiB mapping is one superpage PTE and one PSI with AM=9 on unmap', async () => {
    const env = vtdFarm();
    const domain = env.driver.domainAllocPaging(env.dev.ref, IOMMU_HWPT_ALLOC_NEST_PARENT, undefined);
    await domain.attachDev(env.dev.ref, undefined, undefined);
    const pa = env.phys.allocContiguous(512, 512) << 12n;
    domain.map(0x40_0000n, pa, 0x20_0000n, RW);
    expect(domain.iovaToPhys(0x41_2345n)).toBe(pa + 0x1_2345n);
    const n = env.driver.qi.log.length;
    await domain.unmap(0x40_0000n, 0x20_0000n);
    const [iotlb] = env.driver.qi.log[n]!;
    expect(Number(iotlb![0] & 0x30n) >> 4).toBe(3);
    expect(iotlb![1] & 0x3fn).toBe(9n);
    expect(iotlb![1] & ~0xfffn).toBe(0x40_0000n);
  });

  test('mapping with no permission is EINVAL; over a live PTE is EBUSY', async () => {
    const env = vtdFarm();
    const { domain, iova } = await attachedDomain(env);
    expect(() => domain.map(iova + 0x10000n, 0x1000n, 4096n, 0)).toThrow(
      expect.objectContaining({ errno: 'EINVAL' }),
    );
    expect(() => domain.map(iova, 0x1000n, 4096n, RW)).toThrow(expect.objectContaining({ errno: 'EBUSY' }));
  });

  test('a read-only mapping faults a write with 0x85 (no write permission)', async () => {
    const env = vtdFarm();
    const domain = env.driver.domainAllocPaging(env.dev.ref, 0, undefined);
    await domain.attachDev(env.dev.ref, undefined, undefined);
    domain.map(0x8000n, dataPage(env.phys, 1), 4096n, 1);
    expect((await read(env.dev, 0x8000n)).ok).toBe(true);
    const w = await env.dev.dma({ op: 'write', iova: 0x8000n, length: 4 });
    expect(!w.ok && w.fault).toMatchObject({ reason: 'permission', record: { fr: 0x85, type: 'write' } });
  });
});

describe('queue errors seen by the driver', () => {
  test('ITE: an ATS device that never answers; the driver clears ITE, resubmits, then gives up', async () => {
    const env = vtdFarm({ ats: true, iommu: { atcTimeoutNs: 2000 } });
    const { domain, iova } = await attachedDomain(env);
    await read(env.dev, iova);
    env.hw.atcUnresponsive.add(0x0200);
    const t0 = env.farm.now;
    const n = env.driver.qi.log.length;
    await domain.unmap(iova, 4096n);
    expect(env.farm.now - t0).toBeGreaterThanOrEqual(4 * 2000);
    expect(env.driver.qi.log.length - n).toBe(4); // the first try and three resubmissions
    expect(env.hw.qi.waitsAborted).toBe(4);
    expect(env.hw.regs.read32(0x34) & 0x40).toBe(0); // ITE cleared by qi_check_fault
    // The ATC was invalidated all the same; only the completion never came.
    expect(env.dev.atc!.size).toBe(0);
    env.hw.atcUnresponsive.clear();
    await domain.unmap(iova + 0x1000n, 4096n);
    expect(env.hw.qi.waitsAborted).toBe(4);
  });

  test('IQE on a descriptor of ours: the driver overwrites it with its wait, clears IQE and goes on', async () => {
    const env = vtdFarm();
    await env.driver.ready;
    const bad: RawDesc = [0xfn, 0n, 0n, 0n];
    const rc = await env.driver.qi.submit([bad]);
    expect(rc).toBe('EINVAL');
    expect(env.hw.regs.read32(0x34) & 0x10).toBe(0);
    // The ring keeps working: 300 more submissions wrap it and every slot is reclaimed.
    for (let i = 0; i < 150; i++) expect(await env.driver.qi.submit([])).toBe(0);
    expect(await env.driver.qi.submit([bad])).toBe('EINVAL');
    for (let i = 0; i < 150; i++) expect(await env.driver.qi.submit([])).toBe(0);
  });
});
