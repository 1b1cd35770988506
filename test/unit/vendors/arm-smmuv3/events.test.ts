import { fc, test as ftest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { decodeCd, encodeCd } from '../../../../vendors/arm-smmuv3/cd.ts';
import {
  CMDQ_OP_CFGI_CD,
  CMDQ_OP_CFGI_STE,
  CMDQ_OP_RESUME,
  CMDQ_PRI_1_RESP_DENY,
  CMDQ_PRI_1_RESP_SUCC,
  CMDQ_RESUME_0_RESP_ABORT,
} from '../../../../vendors/arm-smmuv3/cmd.ts';
import { decodeEvent } from '../../../../vendors/arm-smmuv3/event.ts';
import * as R from '../../../../vendors/arm-smmuv3/regs.ts';
import { cdIllegal } from '../../../../vendors/arm-smmuv3/resolve.ts';
import { decodeSte, encodeSte } from '../../../../vendors/arm-smmuv3/ste.ts';
import { IOMMU_READ } from '../../../../vendors/driver.ts';
import { attachedDevice, page, RW, readWords, type SmmuRig, smmuRig, writeWords } from './helpers.ts';

const ids = (rig: SmmuRig) => rig.drv.irqs.events.map((e) => e.id);

async function settle(rig: SmmuRig): Promise<void> {
  await rig.farm.scheduler.settle();
}

describe('EVTQ records', () => {
  test('walk faults: F_TRANSLATION and F_PERMISSION with SID, address and RnW (CD.R=1)', async () => {
    const rig = await smmuRig();
    const { dev, dom } = await attachedDevice(rig);
    dom.map(0x8000n, page(rig.host, 1), 4096n, IOMMU_READ);
    const miss = await dev.dma({ op: 'read', iova: 0x1234_5000n, length: 4 });
    expect(miss).toMatchObject({
      ok: false,
      fault: { vendor: 'arm-smmuv3', reason: 'not-present', record: { id: 0x10, recorded: 1 } },
    });
    const ro = await dev.dma({ op: 'write', iova: 0x8000n, length: 4 });
    expect(ro).toMatchObject({
      ok: false,
      fault: { reason: 'permission', record: { event: 'F_PERMISSION' } },
    });
    await settle(rig);
    const [t, p] = rig.drv.irqs.events;
    expect(t).toMatchObject({
      id: 0x10,
      sid: dev.ref.rid,
      addr: 0x1234_5000n,
      rnw: true,
      s2: false,
      class: 2,
    });
    expect(p).toMatchObject({ id: 0x13, addr: 0x8000n, rnw: false });
  });

  test('configuration faults: C_BAD_STREAMID, C_BAD_STE, C_BAD_SUBSTREAMID, C_BAD_CD; abort records nothing', async () => {
    const rig = await smmuRig();
    const { dev, dom } = await attachedDevice(rig);
    dom.map(0x8000n, page(rig.host, 1), 4096n, RW);
    const rid = dev.ref.rid;
    // A StreamID nobody probed: its L1 descriptor is invalid.
    expect(rig.hw.translate({ rid: 0x7700, pasid: undefined, iova: 0n, write: false })).toMatchObject({
      ok: false,
      fault: { reason: 'bad-config' },
    });
    // S1CDMax = 0: no substreams.
    expect(rig.hw.translate({ rid, pasid: 3, iova: 0x8000n, write: false })).toMatchObject({
      ok: false,
      fault: { record: { event: 'C_BAD_SUBSTREAMID' } },
    });
    // A CD the architecture calls ILLEGAL (AA64 = 0).
    const cdPa = rig.drv.master(dev.ref).cdTable!.base;
    const cd = decodeCd(readWords(rig, cdPa));
    writeWords(rig, cdPa, encodeCd({ ...cd, aa64: false }));
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_CFGI_CD, sid: rid, ssid: 0, leaf: 1 }], true);
    expect((await dev.dma({ op: 'read', iova: 0x8000n, length: 1 })).ok).toBe(false);
    // A reserved STE.Config.
    const stePa = rig.drv.strtab.stePa(rid);
    const ste = decodeSte(readWords(rig, stePa));
    writeWords(rig, stePa, encodeSte({ ...ste, config: 2 }));
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_CFGI_STE, sid: rid, leaf: 1 }], true);
    expect((await dev.dma({ op: 'read', iova: 0x8000n, length: 1 })).ok).toBe(false);
    await settle(rig);
    expect(ids(rig)).toEqual([0x02, 0x08, 0x0a, 0x04]);
    // Config = abort: blocked, and no event.
    writeWords(rig, stePa, encodeSte({ v: true, config: 0 }));
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_CFGI_STE, sid: rid, leaf: 1 }], true);
    const prod = rig.hw.evtq.prod;
    expect(await dev.dma({ op: 'read', iova: 0x8000n, length: 1 })).toMatchObject({
      ok: false,
      fault: { reason: 'blocked' },
    });
    expect(rig.hw.evtq.prod).toBe(prod);
  });

  test('F_STREAM_DISABLED: RID traffic while only a PASID is attached (S1DSS = terminate)', async () => {
    const rig = await smmuRig();
    const dev = rig.host.addDevice({ name: 'p0', iommu: 'smmu0', bdf: '0000:03:00.0', pasidBits: 8 });
    const dom = rig.drv.domainAllocPaging(dev.ref, 0, undefined);
    await dom.attachDev(dev.ref, 5, undefined);
    dom.map(0x1000n, page(rig.host, 9), 4096n, RW);
    expect(await dev.dma({ op: 'read', iova: 0x1000n, length: 1, pasid: 5 })).toMatchObject({
      ok: true,
      data: new Uint8Array([9]),
    });
    expect(await dev.dma({ op: 'read', iova: 0x1000n, length: 1 })).toMatchObject({
      ok: false,
      fault: { record: { event: 'F_STREAM_DISABLED' } },
    });
    expect(await dev.dma({ op: 'read', iova: 0x1000n, length: 1, pasid: 6 })).toMatchObject({
      ok: false,
      fault: { record: { event: 'C_BAD_CD' } },
    });
  });

  test('EVTQ overflow: records are lost, PROD.OVFLG toggles once, the driver drains and acknowledges', async () => {
    const rig = await smmuRig({ evtqLog2: 2 });
    const { dev } = await attachedDevice(rig);
    rig.hw.write32(R.ARM_SMMU_IRQ_CTRL, R.IRQ_CTRL_GERROR_IRQEN); // the EVTQ thread stays asleep
    for (let i = 0; i < 7; i++) await dev.dma({ op: 'read', iova: BigInt(i) << 12n, length: 1 });
    expect(rig.hw.evtq.written).toBe(4);
    expect(rig.hw.evtq.lost).toBe(3);
    expect(rig.hw.read32(R.ARM_SMMU_EVTQ_PROD) & R.Q_OVERFLOW_FLAG).toBe(R.Q_OVERFLOW_FLAG);
    rig.drv.irqs.evtqThread();
    expect(rig.drv.irqs.events.map((e) => e.addr)).toEqual([0n, 0x1000n, 0x2000n, 0x3000n]);
    expect(rig.drv.irqs.evtqOverflows).toBe(1);
    expect(rig.hw.read32(R.ARM_SMMU_EVTQ_CONS) & R.Q_OVERFLOW_FLAG).toBe(R.Q_OVERFLOW_FLAG);
    for (let i = 0; i < 6; i++) await dev.dma({ op: 'read', iova: BigInt(i + 16) << 12n, length: 1 });
    // A second overflow episode toggles the flag back.
    expect(rig.hw.read32(R.ARM_SMMU_EVTQ_PROD) & R.Q_OVERFLOW_FLAG).toBe(0);
    rig.hw.write32(R.ARM_SMMU_IRQ_CTRL, R.IRQ_CTRL_GERROR_IRQEN | R.IRQ_CTRL_EVTQ_IRQEN);
    await dev.dma({ op: 'read', iova: 0x99000n, length: 1 });
    await settle(rig);
    expect(rig.drv.irqs.evtqOverflows).toBe(2);
    expect(rig.drv.irqs.events.at(-1)!.addr).toBe(0x13000n);
    expect(decodeEvent(readWords(rig, rig.drv.irqs.evtq.base, 4)).id).toBe(0x10);
  });
});

describe('stall model', () => {
  test('a stalled fault carries STALL and a STAG until RESUME; CD.S under STE.S1STALLD is C_BAD_CD', async () => {
    const rig = await smmuRig();
    const { dev } = await attachedDevice(rig);
    const rid = dev.ref.rid;
    const cdPa = rig.drv.master(dev.ref).cdTable!.base;
    writeWords(rig, cdPa, encodeCd({ ...decodeCd(readWords(rig, cdPa)), s: true }));
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_CFGI_CD, sid: rid, ssid: 0, leaf: 1 }], true);
    // Linux sets S1STALLD for masters that cannot stall: the stalling CD is then ILLEGAL.
    expect(await dev.dma({ op: 'read', iova: 0x1000n, length: 1 })).toMatchObject({
      ok: false,
      fault: { record: { event: 'C_BAD_CD' } },
    });
    const stePa = rig.drv.strtab.stePa(rid);
    writeWords(rig, stePa, encodeSte({ ...decodeSte(readWords(rig, stePa)), s1stalld: false }));
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_CFGI_STE, sid: rid, leaf: 1 }], true);
    const r = await dev.dma({ op: 'read', iova: 0x1000n, length: 1 });
    expect(r).toMatchObject({ ok: false, fault: { record: { event: 'F_TRANSLATION', stall: 1, stag: 0 } } });
    expect([...(rig.hw.stalls.get(rid) ?? [])]).toEqual([0]);
    await settle(rig);
    expect(rig.drv.irqs.events.at(-1)).toMatchObject({ id: 0x10, stall: true, stag: 0 });
    await rig.drv.cmdq.issue(
      [{ op: CMDQ_OP_RESUME, sid: rid, stag: 0, resp: CMDQ_RESUME_0_RESP_ABORT }],
      true,
    );
    expect([...(rig.hw.stalls.get(rid) ?? [])]).toEqual([]);
  });
});

describe('PRIQ', () => {
  const req = (sid: number, grpid: number, last: boolean) => ({
    sid,
    ssidValid: true,
    ssid: 1,
    priv: false,
    exec: false,
    read: true,
    write: false,
    last,
    grpid,
    addr: 0x4000n,
  });

  test('page requests reach the driver, which denies each group (arm-smmu-v3 has no PRI handler)', async () => {
    const rig = await smmuRig();
    const dev = rig.host.addDevice({
      name: 'g',
      iommu: 'smmu0',
      bdf: '0000:05:00.0',
      pri: true,
      ats: true,
      pasidBits: 8,
    });
    expect(rig.hw.pageRequest(req(dev.ref.rid, 1, false))).toBe('written');
    expect(rig.hw.pageRequest(req(dev.ref.rid, 1, true))).toBe('written');
    await settle(rig);
    expect(rig.drv.irqs.pageRequests.map((p) => [p.grpid, p.last])).toEqual([
      [1, false],
      [1, true],
    ]);
    expect(rig.hw.priResponses).toEqual([
      expect.objectContaining({
        sid: dev.ref.rid,
        ssid: 1,
        grpid: 1,
        resp: CMDQ_PRI_1_RESP_DENY,
        auto: false,
      }),
    ]);
  });

  test('on PRIQ overflow a lost last request is answered Success by the SMMU', async () => {
    const rig = await smmuRig({ priqLog2: 1 });
    rig.hw.write32(R.ARM_SMMU_IRQ_CTRL, R.IRQ_CTRL_GERROR_IRQEN | R.IRQ_CTRL_EVTQ_IRQEN);
    expect(rig.hw.pageRequest(req(0x500, 1, true))).toBe('written');
    expect(rig.hw.pageRequest(req(0x500, 2, true))).toBe('written');
    expect(rig.hw.pageRequest(req(0x500, 3, true))).toBe('overflow');
    await settle(rig);
    expect(rig.hw.priResponses).toEqual([
      expect.objectContaining({ grpid: 3, resp: CMDQ_PRI_1_RESP_SUCC, auto: true }),
    ]);
    rig.drv.irqs.priqThread();
    await settle(rig);
    expect(rig.drv.irqs.priqOverflows).toBe(1);
    expect(rig.hw.priResponses.filter((r) => !r.auto).map((r) => r.grpid)).toEqual([1, 2]);
  });
});

describe('malformed structures in memory', () => {
  const word = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

  ftest.prop([fc.array(word, { minLength: 4, maxLength: 4 }), fc.boolean()], { numRuns: 25 })(
    'a random STE gives C_BAD_STE or a legal configuration, never a crash or an unexplained bypass',
    async (words, write) => {
      const rig = await smmuRig();
      const { dev, dom } = await attachedDevice(rig);
      dom.map(0x8000n, page(rig.host, 1), 4096n, RW);
      const stePa = rig.drv.strtab.stePa(dev.ref.rid);
      writeWords(rig, stePa, [...words, 0n, 0n, 0n, 0n]);
      await rig.drv.cmdq.issue([{ op: CMDQ_OP_CFGI_STE, sid: dev.ref.rid, leaf: 1 }], true);
      const r = rig.hw.translate({ rid: dev.ref.rid, pasid: undefined, iova: 0x8000n, write });
      const ste = decodeSte(words);
      if (r.ok) {
        // Only a bypass (STE or S1DSS) passes the address through untranslated.
        if (r.pa === 0x8000n) expect(ste.config === 4 || ste.s1dss === 1).toBe(true);
      } else if (!ste.v || [1, 2, 3].includes(ste.config)) {
        expect(r.fault.record.event).toBe('C_BAD_STE');
      }
    },
  );

  ftest.prop([fc.array(word, { minLength: 4, maxLength: 4 })], { numRuns: 25 })(
    'a random CD gives C_BAD_CD unless it is a legal CD',
    async (words) => {
      const rig = await smmuRig();
      const { dev, dom } = await attachedDevice(rig);
      dom.map(0x8000n, page(rig.host, 1), 4096n, RW);
      const cdPa = rig.drv.master(dev.ref).cdTable!.base;
      writeWords(rig, cdPa, [...words, 0n, 0n, 0n, 0n]);
      await rig.drv.cmdq.issue([{ op: CMDQ_OP_CFGI_CD, sid: dev.ref.rid, ssid: 0, leaf: 1 }], true);
      const r = rig.hw.translate({ rid: dev.ref.rid, pasid: undefined, iova: 0x8000n, write: false });
      const cd = decodeCd(words);
      // Linux's STE sets S1STALLD (the device cannot stall), which makes a stalling CD illegal too.
      const illegal = cdIllegal(cd, rig.hw.features) ?? (cd.s ? 'CD.S' : undefined);
      if (illegal) expect(r).toMatchObject({ ok: false, fault: { record: { event: 'C_BAD_CD' } } });
      else if (!r.ok) expect(r.fault.record.event).not.toBe('C_BAD_CD');
    },
  );
});
