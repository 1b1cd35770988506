import { describe, expect, test } from 'vitest';
import { IOMMU_HWPT_ALLOC_NEST_PARENT } from '../../../../actors/iommufd/uapi-iommufd.ts';
import { encodeCd } from '../../../../vendors/arm-smmuv3/cd.ts';
import {
  CMDQ_OP_CFGI_STE,
  CMDQ_OP_TLBI_NH_ALL,
  CMDQ_OP_TLBI_NH_ASID,
  CMDQ_OP_TLBI_NH_VA,
  CMDQ_OP_TLBI_S2_IPA,
} from '../../../../vendors/arm-smmuv3/cmd.ts';
import type { Smmuv3PagingDomain } from '../../../../vendors/arm-smmuv3/domain.ts';
import { IoPgtable } from '../../../../vendors/arm-smmuv3/io-pgtable.ts';
import { REGIME_NS_EL1, REGIME_S2 } from '../../../../vendors/arm-smmuv3/iotlb.ts';
import { ARM_LPAE_MAIR } from '../../../../vendors/arm-smmuv3/lpae.ts';
import { decodeSte, encodeSte } from '../../../../vendors/arm-smmuv3/ste.ts';
import { attachedDevice, leafPtePa, page, RW, readWords, smmuRig, writeWords } from './helpers.ts';

const SZ_2M = 1n << 21n;

describe('SMMUv3 IOTLB and configuration cache', () => {
  test('a miss walks and fills; the next access hits; entries are tagged (VMID 0, the domain ASID)', async () => {
    const rig = await smmuRig();
    const a = await attachedDevice(rig, { name: 'a', bdf: '0000:01:00.0' });
    const b = await attachedDevice(rig, { name: 'b', bdf: '0000:02:00.0' });
    a.dom.map(0x1000n, page(rig.host, 1), 4096n, RW);
    b.dom.map(0x1000n, page(rig.host, 2), 4096n, RW);
    const req = (rid: number) => ({ rid, pasid: undefined, iova: 0x1000n, write: false });
    expect(rig.hw.translate(req(a.dev.ref.rid))).toMatchObject({ ok: true, cached: false });
    expect(rig.hw.translate(req(a.dev.ref.rid))).toMatchObject({ ok: true, cached: true });
    rig.hw.translate(req(b.dev.ref.rid));
    const tags = rig.hw.iotlb.entries().map((e) => [e.regime, e.vmid, e.asid]);
    expect(tags).toEqual(
      expect.arrayContaining([
        [REGIME_NS_EL1, 0, a.dom.asid],
        [REGIME_NS_EL1, 0, b.dom.asid],
      ]),
    );
    expect(a.dom.asid).not.toBe(b.dom.asid);
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_TLBI_NH_ASID, asid: a.dom.asid }], true);
    expect(rig.hw.iotlb.entries().map((e) => e.asid)).toEqual([b.dom.asid]);
  });

  test('a PTE changed in memory without TLBI is not seen until TLBI_NH_VA + CMD_SYNC', async () => {
    const rig = await smmuRig();
    const { dev, dom } = await attachedDevice(rig);
    dom.map(0x5000n, page(rig.host, 0x11), 4096n, RW);
    expect((await dev.dma({ op: 'read', iova: 0x5000n, length: 1 })).ok).toBe(true);
    const other = page(rig.host, 0x22);
    const pte = leafPtePa(rig, dom.pgtable.root, 0x5000n);
    rig.host.phys.writeU64(pte, (rig.host.phys.readU64(pte) & ~(((1n << 48n) - 1n) & ~0xfffn)) | other);
    const stale = await dev.dma({ op: 'read', iova: 0x5000n, length: 1 });
    expect(stale).toMatchObject({ ok: true, data: new Uint8Array([0x11]) });
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_TLBI_NH_VA, asid: dom.asid, addr: 0x5000n, leaf: 1 }], true);
    expect(await dev.dma({ op: 'read', iova: 0x5000n, length: 1 })).toMatchObject({
      data: new Uint8Array([0x22]),
    });
  });

  test('range TLBI honours TTL: a level-3 hint leaves a 2M block cached (strictTtl)', async () => {
    for (const strictTtl of [true, false]) {
      const rig = await smmuRig({ strictTtl });
      const { dev, dom } = await attachedDevice(rig);
      const pa = rig.host.phys.allocContiguous(512, 512) << 12n;
      dom.map(SZ_2M, pa, SZ_2M, RW);
      rig.hw.translate({ rid: dev.ref.rid, pasid: undefined, iova: SZ_2M, write: false });
      const tlbi = { op: CMDQ_OP_TLBI_NH_VA, asid: dom.asid, addr: SZ_2M, leaf: 1, tg: 1, scale: 9, num: 0 };
      await rig.drv.cmdq.issue([{ ...tlbi, ttl: 3 }], true);
      expect(rig.hw.iotlb.size).toBe(strictTtl ? 1 : 0);
      await rig.drv.cmdq.issue([{ ...tlbi, ttl: 2 }], true);
      expect(rig.hw.iotlb.size).toBe(0);
    }
  });

  test('an STE changed in memory is used only after CFGI_STE + CMD_SYNC', async () => {
    const rig = await smmuRig();
    const { dev, dom } = await attachedDevice(rig);
    dom.map(0x3000n, page(rig.host, 3), 4096n, RW);
    expect((await dev.dma({ op: 'read', iova: 0x3000n, length: 1 })).ok).toBe(true);
    const ste = rig.drv.strtab.stePa(dev.ref.rid);
    writeWords(rig, ste, encodeSte({ v: true, config: 0 }));
    rig.hw.iotlb.invalidate(() => true);
    expect((await dev.dma({ op: 'read', iova: 0x3000n, length: 1 })).ok).toBe(true);
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_CFGI_STE, sid: dev.ref.rid, leaf: 1 }], true);
    const r = await dev.dma({ op: 'read', iova: 0x3000n, length: 1 });
    expect(r).toMatchObject({ ok: false, fault: { reason: 'blocked' } });
  });
});

describe('nested translation (STE.Config = 7)', () => {
  /**
   * A nest-parent S2 domain identity-maps the "guest" pages (CD, S1 tables) and maps guest IPA
   * 0x4000_0000 to the data page; the STE is then switched to nested by hand.
   */
  async function nestedRig() {
    const rig = await smmuRig();
    const { dev, dom: s2 } = await attachedDevice(rig, {}, IOMMU_HWPT_ALLOC_NEST_PARENT);
    expect(s2.stage).toBe('s2');
    const s1 = new IoPgtable(rig.host.phys, 1, 48, false);
    const data = page(rig.host, 0x77);
    const dataIpa = 0x4000_0000n;
    s1.map(0x9000n, dataIpa, 4096n, RW);
    const cdPa = rig.host.phys.allocPage() << 12n;
    writeWords(
      rig,
      cdPa,
      encodeCd({
        v: true,
        t0sz: 16,
        epd1: true,
        aa64: true,
        r: true,
        ips: 5,
        asid: 42,
        ttb0: s1.root,
        mair: ARM_LPAE_MAIR,
      }),
    );
    const tablePages = new Set<bigint>([cdPa, s1.root]);
    let t = s1.root;
    for (let l = 0; l < 3; l++) {
      t = rig.host.phys.readU64(t) & ((1n << 48n) - 1n) & ~0xfffn;
      tablePages.add(t);
    }
    for (const p of tablePages) s2.map(p, p, 4096n, RW);
    s2.map(dataIpa, data, 4096n, RW);
    const steAt = rig.drv.strtab.stePa(dev.ref.rid);
    const cur = decodeSte(readWords(rig, steAt));
    writeWords(rig, steAt, encodeSte({ ...cur, config: 7, s1ctxptr: cdPa, s1cdmax: 0 }));
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_CFGI_STE, sid: dev.ref.rid, leaf: 1 }], true);
    return { rig, dev, s2: s2 as Smmuv3PagingDomain, dataIpa, tablePages, cdPa };
  }

  test('stage 1 output goes through stage 2; the combined entry is tagged (VMID, ASID)', async () => {
    const { rig, dev, s2 } = await nestedRig();
    expect(await dev.dma({ op: 'read', iova: 0x9000n, length: 1 })).toMatchObject({
      ok: true,
      data: new Uint8Array([0x77]),
    });
    expect(rig.hw.iotlb.entries().map((e) => [e.regime, e.vmid, e.asid])).toContainEqual([
      REGIME_NS_EL1,
      s2.vmid,
      42,
    ]);
  });

  test('TLBI_S2_IPA alone leaves the combined S1+S2 entry; NH_ALL of the VMID drops it', async () => {
    const { rig, dev, s2, dataIpa } = await nestedRig();
    await dev.dma({ op: 'read', iova: 0x9000n, length: 1 });
    const before = rig.hw.iotlb.entries().filter((e) => e.regime === REGIME_NS_EL1).length;
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_TLBI_S2_IPA, vmid: s2.vmid, addr: dataIpa, leaf: 1 }], true);
    expect(rig.hw.iotlb.entries().filter((e) => e.regime === REGIME_NS_EL1).length).toBe(before);
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_TLBI_NH_ALL, vmid: s2.vmid }], true);
    expect(
      rig.hw.iotlb.entries().filter((e) => e.regime === REGIME_NS_EL1 || e.regime === REGIME_S2),
    ).toHaveLength(0);
  });

  test('unmapping the IPA from the nest parent flushes nested entries; the DMA takes an S2 fault', async () => {
    const { rig, dev, s2, dataIpa } = await nestedRig();
    await dev.dma({ op: 'read', iova: 0x9000n, length: 1 });
    const from = rig.drv.cmdq.history.length;
    await s2.unmap(dataIpa, 4096n);
    expect(rig.drv.cmdq.history.slice(from).map((h) => h.ops.join('+'))).toEqual([
      'TLBI_S2_IPA+CMD_SYNC',
      'TLBI_NH_ALL+CMD_SYNC',
    ]);
    const r = await dev.dma({ op: 'read', iova: 0x9000n, length: 1 });
    expect(r).toMatchObject({
      ok: false,
      fault: { record: { event: 'F_TRANSLATION', s2: 1, class: 2, dw3: dataIpa } },
    });
  });

  test('a stage-2 fault on a stage-1 table fetch is reported with CLASS=TT and the table IPA', async () => {
    const { rig, dev, s2, tablePages, cdPa } = await nestedRig();
    const l3 = [...tablePages].at(-1)!;
    expect(l3).not.toBe(cdPa);
    await s2.unmap(l3, 4096n);
    const r = await dev.dma({ op: 'read', iova: 0x9000n, length: 1 });
    expect(r).toMatchObject({
      ok: false,
      fault: { record: { event: 'F_TRANSLATION', s2: 1, class: 1, dw3: l3 } },
    });
    expect(rig.hw.iotlb.size).toBe(0);
  });
});
