import { describe, expect, test } from 'vitest';
import { IOMMU_HWPT_ALLOC_NEST_PARENT } from '../../../../actors/iommufd/uapi-iommufd.ts';
import { QI_GRAN_DSI, QI_GRAN_PSI } from '../../../../vendors/intel-vtd/descriptors.ts';
import { KIND_FS, KIND_SS } from '../../../../vendors/intel-vtd/iotlb.ts';
import { descCc, descDevIotlb, descPc, descPiotlb } from '../../../../vendors/intel-vtd/qi-encode.ts';
import { attachedDomain, dataPage, RW, read, vtdFarm, vtdRecord } from './helpers.ts';

describe('IOTLB', () => {
  test('a second DMA to the page hits the IOTLB, tagged (DID, PASID 0)', async () => {
    const env = vtdFarm();
    const { domain, iova } = await attachedDomain(env);
    const r1 = await read(env.dev, iova);
    expect(r1.ok && [...r1.data!]).toEqual([0x40, 0x40, 0x40, 0x40]);
    expect(env.hw.iotlb.size).toBe(1);
    const hits = env.hw.iotlb.hits;
    await read(env.dev, iova + 8n);
    expect(env.hw.iotlb.hits).toBe(hits + 1);
    const [e] = env.hw.iotlb.entries();
    expect(e).toMatchObject({ kind: KIND_FS, tag: domain.did! * 0x10_0000, size: 4096n });
  });

  test('iotlb_inv_dsc by DID drops second-stage entries but not first-stage ones; p_iotlb drops both', async () => {
    const env = vtdFarm();
    const fs = await attachedDomain(env);
    await read(env.dev, fs.iova);
    const did = fs.domain.did!;
    await env.driver.flusher.submit([env.driver.flusher.iotlb(did, 0n, false, 0, QI_GRAN_DSI)]);
    expect(env.hw.iotlb.size).toBe(1);
    await env.driver.flusher.submit([descPiotlb(did, 0, 0n, -1n, false)]);
    expect(env.hw.iotlb.size).toBe(0);

    const env2 = vtdFarm();
    const ss = await attachedDomain(env2, { flags: IOMMU_HWPT_ALLOC_NEST_PARENT });
    await read(env2.dev, ss.iova);
    expect(env2.hw.iotlb.entries()[0]!.kind).toBe(KIND_SS);
    await env2.driver.flusher.submit([env2.driver.flusher.iotlb(ss.domain.did!, 0n, false, 0, QI_GRAN_DSI)]);
    expect(env2.hw.iotlb.size).toBe(0);
  });

  test('a page-selective flush of one 4 KiB page drops the 2 MiB entry that covers it', async () => {
    const env = vtdFarm();
    const domain = env.driver.domainAllocPaging(env.dev.ref, IOMMU_HWPT_ALLOC_NEST_PARENT, undefined);
    await domain.attachDev(env.dev.ref, undefined, undefined);
    const pa = env.phys.allocContiguous(512, 512) << 12n;
    domain.map(0x20_0000n, pa, 0x20_0000n, RW);
    const r = await read(env.dev, 0x23_4000n);
    expect(r.ok).toBe(true);
    expect(env.hw.iotlb.entries()[0]!.size).toBe(0x20_0000n);
    const did = (domain as { did?: number }).did!;
    await env.driver.flusher.submit([env.driver.flusher.iotlb(did + 1, 0x23_4000n, false, 0, QI_GRAN_PSI)]);
    expect(env.hw.iotlb.size).toBe(1); // other DID: untouched
    await env.driver.flusher.submit([env.driver.flusher.iotlb(did, 0x3f_f000n, false, 0, QI_GRAN_PSI)]);
    expect(env.hw.iotlb.size).toBe(0);
  });

  test('two devices in two domains get two DIDs; flushing one leaves the other cached', async () => {
    const env = vtdFarm();
    const dev2 = env.host.addDevice({ name: 'nic1', iommu: 'dmar0', bdf: '0000:03:00.0' });
    const a = await attachedDomain(env);
    const b = env.driver.domainAllocPaging(dev2.ref, 0, undefined);
    await b.attachDev(dev2.ref, undefined, undefined);
    b.map(0x10_0000n, dataPage(env.phys, 0x77), 4096n, RW);
    await read(env.dev, a.iova);
    const rb = await read(dev2, 0x10_0000n);
    expect(rb.ok && rb.data![0]).toBe(0x77);
    expect(new Set(env.hw.iotlb.entries().map((e) => e.tag)).size).toBe(2);
    await env.driver.flusher.submit([descPiotlb(a.domain.did!, 0, 0n, -1n, false)]);
    expect(env.hw.iotlb.size).toBe(1);
  });

  test('capacity: the oldest entry is evicted', async () => {
    const env = vtdFarm({ iommu: { iotlbEntries: 2 } });
    const { iova } = await attachedDomain(env, { pages: 3 });
    for (let i = 0n; i < 3n; i++) await read(env.dev, iova + i * 4096n);
    expect(env.hw.iotlb.entries().map((e) => e.pa)).toHaveLength(2);
    const before = env.hw.iotlb.misses;
    await read(env.dev, iova);
    expect(env.hw.iotlb.misses).toBe(before + 1);
  });
});

describe('configuration caches', () => {
  test('the context cache serves a stale entry until a device-selective cc_inv', async () => {
    const env = vtdFarm();
    const { iova } = await attachedDomain(env);
    await read(env.dev, iova);
    expect(env.hw.translator.contextCache.has(0x0200)).toBe(true);
    // Clear P of the context entry behind the driver's back.
    const table = env.phys.readU64(env.driver.rootTable + 2n * 16n) & ~0xfffn;
    env.phys.writeU64(table, 0n);
    expect((await read(env.dev, iova)).ok).toBe(true);
    await env.driver.flusher.submit([descCc(0, 0x0200, 0, 3)]);
    const r = await read(env.dev, iova);
    expect(vtdRecord(r)).toMatchObject({ fr: 0x41 });
  });

  test('the PASID cache is tagged by DID: pc_inv with another DID leaves the entry', async () => {
    const env = vtdFarm();
    const { domain, iova } = await attachedDomain(env);
    await read(env.dev, iova);
    const info = env.driver.probe(env.dev.ref);
    info.clearEntry(0);
    await env.driver.flusher.submit([descPiotlb(domain.did!, 0, 0n, -1n, false)]);
    await env.driver.flusher.submit([descPc(domain.did! + 1, 0, 1)]);
    expect((await read(env.dev, iova)).ok).toBe(true);
    await env.driver.flusher.submit([descPc(domain.did!, 0, 1)]);
    const r = await read(env.dev, iova);
    expect(vtdRecord(r)).toMatchObject({ fr: 0x59 });
  });
});

describe('device TLB (ATC)', () => {
  test('an IOTLB flush does not touch the ATC; only dev_tlb does', async () => {
    const env = vtdFarm({ ats: true });
    const { domain, iova } = await attachedDomain(env);
    await read(env.dev, iova);
    const atc = env.dev.atc!;
    expect(atc.size).toBe(1);
    await env.driver.flusher.submit([descPiotlb(domain.did!, 0, 0n, -1n, false)]);
    expect(env.hw.iotlb.size).toBe(0);
    expect(atc.size).toBe(1);
    await env.driver.flusher.submit([descDevIotlb(0x0200, 0x0200, 32, iova, 0)]);
    expect(atc.size).toBe(0);
  });

  test('ATS translation needs DTE: a device without ATS never fills an ATC', async () => {
    const env = vtdFarm({ ats: false });
    const { iova } = await attachedDomain(env);
    expect(env.dev.atc).toBeUndefined();
    expect(env.hw.atsTranslate({ rid: 0x0200, pasid: undefined, iova, write: false })).toBeUndefined();
  });
});
