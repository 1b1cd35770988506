import { describe, expect, test } from 'vitest';
import {
  IOMMU_HW_INFO_TYPE_ARM_SMMUV3,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  iommu_hw_info_arm_smmuv3,
} from '../../../../index.ts';
import { decodeCd } from '../../../../vendors/arm-smmuv3/cd.ts';
import type { Smmuv3PagingDomain } from '../../../../vendors/arm-smmuv3/domain.ts';
import * as R from '../../../../vendors/arm-smmuv3/regs.ts';
import { decodeSte } from '../../../../vendors/arm-smmuv3/ste.ts';
import { IOMMU_READ } from '../../../../vendors/driver.ts';
import { attachedDevice, opsOf, page, RW, readWords, smmuRig } from './helpers.ts';

const SZ_2M = 1n << 21n;

/** TLBI_NH_VA fields as the tracer saw them ("scale=4 asid=1 ..."; zero fields are omitted). */
function tlbiDetails(
  events: Array<{ type: string; opcode?: string; detail?: string }>,
): Array<Record<string, string>> {
  return events
    .filter((e) => e.type === 'cmd' && e.opcode === 'TLBI_NH_VA')
    .map((e) =>
      Object.fromEntries((e.detail ?? '').split(' ').map((kv) => kv.split('=') as [string, string])),
    );
}

describe('arm-smmu-v3 driver', () => {
  test('reset: CFGI_ALL, TLBI_EL2_ALL and TLBI_NSNH_ALL, each with a sync; then all queues and SMMUEN', async () => {
    const rig = await smmuRig();
    expect(opsOf(rig.drv)).toEqual([
      'CFGI_STE_RANGE+CMD_SYNC',
      'TLBI_EL2_ALL+CMD_SYNC',
      'TLBI_NSNH_ALL+CMD_SYNC',
    ]);
    const ack = rig.hw.read32(R.ARM_SMMU_CR0ACK);
    for (const bit of [R.CR0_SMMUEN, R.CR0_CMDQEN, R.CR0_EVTQEN, R.CR0_PRIQEN, R.CR0_ATSCHK])
      expect(ack & bit).toBe(bit);
    expect(rig.hw.read32(R.ARM_SMMU_STRTAB_BASE_CFG) >>> 16).toBe(R.STRTAB_BASE_CFG_FMT_2LVL);
  });

  test('attach writes the CD then the STE hitlessly (CFGI_CD/CFGI_STE + sync per step), then PREFETCH_CONFIG', async () => {
    const rig = await smmuRig();
    const from = rig.drv.cmdq.history.length;
    const { dev, dom } = await attachedDevice(rig);
    expect(opsOf(rig.drv, from)).toEqual([
      'CFGI_CD+CMD_SYNC',
      'CFGI_CD+CMD_SYNC',
      'CFGI_STE+CMD_SYNC',
      'CFGI_STE+CMD_SYNC',
      'PREFETCH_CONFIG',
    ]);
    const m = rig.drv.master(dev.ref);
    const ste = decodeSte(readWords(rig, rig.drv.strtab.stePa(dev.ref.rid)));
    expect(ste).toMatchObject({
      v: true,
      config: 5,
      s1ctxptr: m.cdTable!.base,
      s1cdmax: 0,
      s1dss: 2,
      eats: 0,
      strw: 0,
    });
    const cd = decodeCd(readWords(rig, m.cdTable!.base));
    expect(cd).toMatchObject({
      v: true,
      asid: dom.asid,
      ttb0: dom.pgtable.root,
      t0sz: 16,
      tg0: 0,
      epd1: true,
      aa64: true,
      r: true,
      ips: 5,
    });
  });

  test('strict unmap is one TLBI_NH_VA range command (NUM/SCALE, TTL=3) + CMD_SYNC', async () => {
    const rig = await smmuRig();
    const { dev, dom } = await attachedDevice(rig);
    const pa = rig.host.phys.allocContiguous(64, 64) << 12n;
    dom.map(0x10000n, pa, 16n * 4096n, RW);
    dom.map(0x100000n, pa, 33n * 4096n, RW);
    const cmds: Array<{ type: string; opcode?: string; detail?: string }> = [];
    rig.farm.events$.subscribe((e) => cmds.push(e));
    const from = rig.drv.cmdq.history.length;
    await dom.unmap(0x10000n, 16n * 4096n);
    expect(opsOf(rig.drv, from)).toEqual(['TLBI_NH_VA+CMD_SYNC']);
    expect(tlbiDetails(cmds)).toEqual([
      { asid: `${dom.asid}`, scale: '4', leaf: '1', ttl: '3', tg: '1', addr: '0x10000' },
    ]);
    // 33 pages: 1 page, then 32 (five bits of page count per command).
    await dom.unmap(0x100000n, 33n * 4096n);
    expect(opsOf(rig.drv, from + 1)).toEqual(['TLBI_NH_VA+TLBI_NH_VA+CMD_SYNC']);
    expect((await dev.dma({ op: 'read', iova: 0x10000n, length: 4 })).ok).toBe(false);
  });

  test('a 2M block unmap uses TTL=2; without RIL one command per granule', async () => {
    const rig = await smmuRig();
    const { dom } = await attachedDevice(rig);
    dom.map(SZ_2M, rig.host.phys.allocContiguous(512, 512) << 12n, SZ_2M, RW);
    const cmds: Array<{ type: string; opcode?: string; detail?: string }> = [];
    rig.farm.events$.subscribe((e) => cmds.push(e));
    await dom.unmap(SZ_2M, SZ_2M);
    expect(tlbiDetails(cmds)).toEqual([
      { asid: `${dom.asid}`, scale: '9', leaf: '1', ttl: '2', tg: '1', addr: '0x200000' },
    ]);
    const old = await smmuRig({ ril: false });
    const o = await attachedDevice(old);
    o.dom.map(0x4000n, old.host.phys.allocContiguous(4, 4) << 12n, 3n * 4096n, RW);
    const from = old.drv.cmdq.history.length;
    await o.dom.unmap(0x4000n, 3n * 4096n);
    expect(opsOf(old.drv, from)).toEqual(['TLBI_NH_VA+TLBI_NH_VA+TLBI_NH_VA+CMD_SYNC']);
  });

  test('ATS: attach enables ATS (EATS=TRANS, ATC flushed first); unmap is TLBI + sync then ATC_INV + sync', async () => {
    const rig = await smmuRig();
    const from = rig.drv.cmdq.history.length;
    const { dev, dom } = await attachedDevice(rig, { ats: true });
    expect(opsOf(rig.drv, from).at(-1)).toBe('ATC_INV+CMD_SYNC');
    expect(decodeSte(readWords(rig, rig.drv.strtab.stePa(dev.ref.rid))).eats).toBe(1);
    expect(rig.hw.pciAtsEnabled(dev.ref.rid)).toBe(true);
    dom.map(0x10000n, page(rig.host, 4), 4096n, RW);
    expect((await dev.dma({ op: 'read', iova: 0x10000n, length: 1 })).ok).toBe(true);
    expect(dev.atc!.size).toBe(1);
    const mark = rig.drv.cmdq.history.length;
    await dom.unmap(0x10000n, 4096n);
    expect(opsOf(rig.drv, mark)).toEqual(['TLBI_NH_VA+CMD_SYNC', 'ATC_INV+CMD_SYNC']);
    expect(dev.atc!.size).toBe(0);
  });

  test('the blocked domain writes an abort STE and turns ATS off', async () => {
    const rig = await smmuRig();
    const { dev, dom } = await attachedDevice(rig, { ats: true });
    dom.map(0x10000n, page(rig.host, 4), 4096n, RW);
    await rig.drv.blockedDomain.attachDev(dev.ref, undefined, dom);
    expect(decodeSte(readWords(rig, rig.drv.strtab.stePa(dev.ref.rid)))).toMatchObject({
      v: true,
      config: 0,
    });
    expect(rig.hw.pciAtsEnabled(dev.ref.rid)).toBe(false);
    const prod = rig.hw.evtq.prod;
    expect(await dev.dma({ op: 'read', iova: 0x10000n, length: 1 })).toMatchObject({
      ok: false,
      fault: { reason: 'blocked' },
    });
    expect(rig.hw.evtq.prod).toBe(prod);
    expect(dom.devices).toHaveLength(0);
  });

  test('hw_info, resv regions, capabilities, max PASIDs', async () => {
    const rig = await smmuRig();
    const dev = rig.host.addDevice({ name: 'x', iommu: 'smmu0', bdf: '0000:04:00.0', pasidBits: 8 });
    const info = rig.drv.hwInfo(dev.ref, 0);
    expect(info.type).toBe(IOMMU_HW_INFO_TYPE_ARM_SMMUV3);
    const s = iommu_hw_info_arm_smmuv3.decode(info.data);
    expect(info.data.length).toBe(40);
    expect(s.idr).toEqual([0, 1, 2, 3, 4, 5].map((i) => rig.hw.read32(4 * i)));
    expect(s.iidr).toBe(rig.hw.read32(R.ARM_SMMU_IIDR));
    expect(s.aidr).toBe(0x02);
    expect(() => rig.drv.hwInfo(dev.ref, 1)).toThrow(expect.objectContaining({ errno: 'EOPNOTSUPP' }));
    expect(rig.drv.resvRegions(dev.ref)).toEqual([{ start: 0x8000000n, length: 0x100000n, type: 'sw-msi' }]);
    expect(rig.drv.capable(dev.ref, 'DIRTY_TRACKING')).toBe(true);
    expect(rig.drv.capable(dev.ref, 'PCI_ATS_SUPPORTED')).toBe(false);
    expect(rig.drv.maxPasids(dev.ref)).toBe(256);
    const noPasid = rig.host.addDevice({ name: 'y', iommu: 'smmu0', bdf: '0000:04:00.1' });
    expect(rig.drv.maxPasids(noPasid.ref)).toBe(0);
  });

  test('domain allocation: S1 by default, S2 for a nest parent; unsupported flags are EOPNOTSUPP', async () => {
    const rig = await smmuRig({ httu: 1 });
    const dev = rig.host.addDevice({ name: 'x', iommu: 'smmu0', bdf: '0000:04:00.0' });
    const s1 = rig.drv.domainAllocPaging(dev.ref, IOMMU_HWPT_ALLOC_PASID, undefined) as Smmuv3PagingDomain;
    expect([s1.stage, s1.aperture.end, s1.pgsizeBitmap]).toEqual(['s1', (1n << 48n) - 1n, 0x40201000n]);
    const s2 = rig.drv.domainAllocPaging(
      dev.ref,
      IOMMU_HWPT_ALLOC_NEST_PARENT,
      undefined,
    ) as Smmuv3PagingDomain;
    expect([s2.stage, s2.nestParent, s2.vmid]).toEqual(['s2', true, 1]);
    for (const flags of [
      IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
      1 << 7,
      IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID,
    ])
      expect(() => rig.drv.domainAllocPaging(dev.ref, flags, undefined)).toThrow(
        expect.objectContaining({ errno: 'EOPNOTSUPP' }),
      );
    const data = { type: 0, len: 0, read: () => new Uint8Array() };
    expect(() => rig.drv.domainAllocPaging(dev.ref, 0, data)).toThrow(
      expect.objectContaining({ errno: 'EOPNOTSUPP' }),
    );
  });

  test('freeing a domain flushes its ASID (TLBI_NH_ASID + sync) before the ASID and tables are reused', async () => {
    const rig = await smmuRig();
    const { dev, dom } = await attachedDevice(rig);
    dom.map(0x10000n, page(rig.host, 1), 4096n, RW);
    await dev.dma({ op: 'read', iova: 0x10000n, length: 1 });
    await rig.drv.blockedDomain.attachDev(dev.ref, undefined, dom);
    const frames = rig.host.phys.stats().allocatedFrames;
    const from = rig.drv.cmdq.history.length;
    dom.free();
    await rig.drv.idle();
    expect(opsOf(rig.drv, from)).toEqual(['TLBI_NH_ASID+CMD_SYNC']);
    expect(rig.hw.iotlb.size).toBe(0);
    expect(rig.host.phys.stats().allocatedFrames).toBeLessThan(frames);
    const again = rig.drv.domainAllocPaging(dev.ref, 0, undefined) as Smmuv3PagingDomain;
    expect(again.asid).toBe(dom.asid);
  });

  test('PASID attach: a CD at that SSID with the domain ASID; the RID keeps its own domain', async () => {
    const rig = await smmuRig();
    const { dev, dom } = await attachedDevice(rig, { pasidBits: 20 });
    const other = rig.drv.domainAllocPaging(dev.ref, IOMMU_HWPT_ALLOC_PASID, undefined) as Smmuv3PagingDomain;
    await other.attachDev(dev.ref, 7, undefined);
    dom.map(0x1000n, page(rig.host, 0xaa), 4096n, RW);
    other.map(0x1000n, page(rig.host, 0xbb), 4096n, RW);
    expect(await dev.dma({ op: 'read', iova: 0x1000n, length: 1 })).toMatchObject({
      data: new Uint8Array([0xaa]),
    });
    expect(await dev.dma({ op: 'read', iova: 0x1000n, length: 1, pasid: 7 })).toMatchObject({
      data: new Uint8Array([0xbb]),
    });
    const ste = decodeSte(readWords(rig, rig.drv.strtab.stePa(dev.ref.rid)));
    expect(ste).toMatchObject({ s1fmt: 2, s1cdmax: 20, s1dss: 2 });
    await expect(other.attachDev(dev.ref, 0, undefined)).rejects.toMatchObject({ errno: 'EINVAL' });
    await rig.drv.blockedDomain.attachDev(dev.ref, 7, other);
    expect(await dev.dma({ op: 'read', iova: 0x1000n, length: 1, pasid: 7 })).toMatchObject({
      ok: false,
      fault: { record: { event: 'C_BAD_CD' } },
    });
  });

  test('a domain of one SMMU does not attach a device behind another (EINVAL)', async () => {
    const rig = await smmuRig();
    rig.host.addIommu({ name: 'smmu1', vendor: 'arm-smmuv3' });
    const { dom } = await attachedDevice(rig);
    const far = rig.host.addDevice({ name: 'far', iommu: 'smmu1', bdf: '0000:09:00.0' });
    await expect(dom.attachDev(far.ref, undefined, undefined)).rejects.toMatchObject({ errno: 'EINVAL' });
  });

  test('a nest parent is a stage-2 STE with its VMID', async () => {
    const rig = await smmuRig();
    const { dev, dom } = await attachedDevice(rig, {}, IOMMU_HWPT_ALLOC_NEST_PARENT);
    const ste = decodeSte(readWords(rig, rig.drv.strtab.stePa(dev.ref.rid)));
    expect(ste).toMatchObject({
      v: true,
      config: 6,
      s2vmid: dom.vmid,
      s2aa64: true,
      s2r: true,
      s2ptw: true,
      s2ttb: dom.pgtable.root,
    });
    expect(ste.vtcr).toMatchObject({ t0sz: 16, sl0: 2, tg: 0, ps: 5 });
    dom.map(0x3000n, page(rig.host, 0x33), 4096n, IOMMU_READ);
    expect(await dev.dma({ op: 'read', iova: 0x3000n, length: 1 })).toMatchObject({
      data: new Uint8Array([0x33]),
    });
    expect(await dev.dma({ op: 'write', iova: 0x3000n, length: 1 })).toMatchObject({
      ok: false,
      fault: { record: { event: 'F_PERMISSION', s2: 1 } },
    });
  });

  test('dirty tracking through HTTU: CD.HA/HD, DBM leaves, a DMA write marks its page dirty', async () => {
    const rig = await smmuRig();
    const { dev, dom } = await attachedDevice(rig, {}, IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
    const cd = decodeCd(readWords(rig, rig.drv.master(dev.ref).cdTable!.base));
    expect([cd.ha, cd.hd]).toEqual([true, true]);
    const pa = rig.host.phys.allocContiguous(4, 4) << 12n;
    dom.map(0x10000n, pa, 4n * 4096n, RW);
    const dirty = async (noClear = false) => {
      const out: bigint[] = [];
      await dom.dirty!.readAndClear(0x10000n, 4n * 4096n, noClear, (iova) => out.push(iova));
      return out;
    };
    await dom.dirty!.setTracking(true);
    expect(await dirty()).toHaveLength(4); // writable leaves start dirty
    expect(await dirty()).toEqual([]);
    await dev.dma({ op: 'write', iova: 0x12000n, length: 8 });
    await dev.dma({ op: 'read', iova: 0x13000n, length: 8 });
    expect(await dirty(true)).toEqual([0x12000n]);
    expect(await dirty()).toEqual([0x12000n]);
    // The page was cached writable before the clear; the next write must still mark it.
    await dev.dma({ op: 'write', iova: 0x12000n, length: 8 });
    expect(await dirty()).toEqual([0x12000n]);
  });

  test('a linear stream table (no 2-level support) and a linear CD table', async () => {
    const rig = await smmuRig({ twoLevelStrtab: false, sidBits: 8 });
    expect(rig.hw.read32(R.ARM_SMMU_STRTAB_BASE_CFG)).toBe(8);
    const { dev, dom } = await attachedDevice(rig, { pasidBits: 4, bdf: '0000:00:05.0' });
    dom.map(0x1000n, page(rig.host, 5), 4096n, RW);
    expect(await dev.dma({ op: 'read', iova: 0x1000n, length: 1 })).toMatchObject({
      data: new Uint8Array([5]),
    });
    expect(decodeSte(readWords(rig, rig.drv.strtab.stePa(dev.ref.rid)))).toMatchObject({
      s1fmt: 0,
      s1cdmax: 4,
    });
  });
});
