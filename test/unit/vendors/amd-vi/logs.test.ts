import { describe, expect, test } from 'vitest';
import { createFarm } from '../../../../index.ts';
import { CLEAR_DTE } from '../../../../vendors/amd-vi/dte.ts';
import { decodePpr } from '../../../../vendors/amd-vi/events.ts';
import type { AmdViDriver, AmdViHardware } from '../../../../vendors/amd-vi/index.ts';
import type { PageResponse } from '../../../../vendors/amd-vi/ppr-port.ts';
import * as R from '../../../../vendors/amd-vi/regs.ts';
import type { IopfReport } from '../../../../vendors/driver.ts';
import { bareIommu } from './helpers.ts';

describe('event log (hardware)', () => {
  test('full at 255 entries of 256: EventOverflow, logging stops until the bit is cleared', () => {
    const b = bareIommu();
    b.setDte(0x10, CLEAR_DTE);
    for (let i = 0; i < 300; i++)
      b.hw.translate({ rid: 0x10, pasid: undefined, iova: BigInt(i) << 12n, write: false });
    expect(b.hw.eventLog.pending()).toBe(255);
    expect(b.hw.eventLog.dropped).toBe(45);
    const status = b.hw.readReg(R.MMIO_STATUS);
    expect(status & R.STATUS_EVT_OVERFLOW).toBe(R.STATUS_EVT_OVERFLOW);
    expect(status & R.STATUS_EVT_RUN).toBe(0n);
    expect(
      b
        .events()
        .slice(0, 2)
        .map((e) => [e.name, e.address]),
    ).toEqual([
      ['IO_PAGE_FAULT', 0n],
      ['IO_PAGE_FAULT', 0x1000n],
    ]);
    // Software consumes everything and clears the bit: still stopped until EventLogEn goes 0 → 1.
    b.hw.writeReg(R.MMIO_EVT_HEAD, b.hw.readReg(R.MMIO_EVT_TAIL));
    b.hw.writeReg(R.MMIO_STATUS, R.STATUS_EVT_OVERFLOW);
    expect(b.hw.readReg(R.MMIO_STATUS) & R.STATUS_EVT_RUN).toBe(0n);
    b.hw.writeReg(R.MMIO_CONTROL, b.control & ~R.CONTROL_EVT_LOG_EN);
    b.hw.writeReg(R.MMIO_CONTROL, b.control);
    b.hw.translate({ rid: 0x10, pasid: undefined, iova: 0x77_7000n, write: true });
    expect(b.events()).toEqual([
      expect.objectContaining({ name: 'IO_PAGE_FAULT', address: 0x77_7000n, flags: 0x20 }),
    ]);
  });

  test('malformed DTEs are ILLEGAL_DEV_TABLE_ENTRY (RZ for reserved bits); unbacked tables PAGE_TAB_HW_ERROR', () => {
    const b = bareIommu();
    b.setDteRaw(0x10, [3n | (1n << 3n), 0n, 0n, 0n]);
    b.setDteRaw(0x11, [3n | (7n << 9n), 0n, 0n, 0n]);
    b.setDteRaw(0x12, [3n | (4n << 9n) | 0x9_0000_0000n | (3n << 61n), 0n, 0n, 0n]);
    const req = (rid: number) => ({ rid, pasid: undefined, iova: 0x1000n, write: false });
    expect(b.hw.translate(req(0x10))).toMatchObject({ ok: false, fault: { reason: 'bad-config' } });
    expect(b.hw.translate(req(0x11))).toMatchObject({ ok: false, fault: { reason: 'bad-config' } });
    expect(b.hw.translate(req(0x12))).toMatchObject({ ok: false, fault: { reason: 'bad-config' } });
    expect(b.events().map((e) => [e.name, e.devid, e.flags])).toEqual([
      ['ILLEGAL_DEV_TABLE_ENTRY', 0x10, 0x80],
      ['ILLEGAL_DEV_TABLE_ENTRY', 0x11, 0],
      ['PAGE_TAB_HW_ERROR', 0x12, 0],
    ]);
    expect(b.events()[2]!.address).toBe(0x9_0000_0000n + 8n * 0n);
  });
});

describe('event log (driver)', () => {
  test('the interrupt thread drains the log, and restarts it after an overflow', async () => {
    const farm = createFarm({ seed: 5 });
    const host = farm.addHost({ name: 'h0' });
    const iommu = host.addIommu({ name: 'amd0', vendor: 'amd-vi' });
    host.addDevice({ name: 'nic0', iommu: 'amd0', bdf: '0000:02:00.0' });
    const hw = iommu.hw as AmdViHardware;
    const driver = iommu.driver as AmdViDriver;
    await farm.settle();
    for (let i = 0; i < 600; i++)
      hw.translate({ rid: 0x200, pasid: undefined, iova: BigInt(i) << 12n, write: false });
    await farm.settle();
    expect(driver.events.length).toBe(511);
    expect(driver.irq!.restarts).toBe(1);
    expect(hw.eventLog.running).toBe(true);
    hw.translate({ rid: 0x200, pasid: undefined, iova: 0xabc_d000n, write: false });
    await farm.settle();
    expect(driver.events.at(-1)).toMatchObject({ name: 'IO_PAGE_FAULT', devid: 0x200, address: 0xabc_d000n });
  });
});

describe('PPR log and COMPLETE_PPR_REQUEST', () => {
  async function pprFarm(subscribe: boolean) {
    const farm = createFarm({ seed: 6 });
    const host = farm.addHost({ name: 'h0' });
    const iommu = host.addIommu({ name: 'amd0', vendor: 'amd-vi' });
    const dev = host.addDevice({
      name: 'gpu0',
      iommu: 'amd0',
      bdf: '0000:04:00.0',
      ats: true,
      pri: true,
      pasidBits: 8,
    });
    const hw = iommu.hw as AmdViHardware;
    const driver = iommu.driver as AmdViDriver;
    const reports: IopfReport[] = [];
    if (subscribe) driver.iopf$.subscribe((r) => reports.push(r));
    const responses: PageResponse[] = [];
    hw.pageResponses$.subscribe((r) => responses.push(r));
    return { farm, dev, hw, driver, reports, responses };
  }

  test('a page request reaches iopf$; the response goes back as COMPLETE_PPR_REQUEST', async () => {
    const s = await pprFarm(true);
    const dom = s.driver.domainAllocPaging(s.dev.ref, 0, undefined);
    await dom.attachDev(s.dev.ref, undefined, undefined);
    s.hw.pageRequest(0x400, { pasid: 3, address: 0x1234_5678n, write: true, read: true, tag: 0x12 });
    await s.farm.settle();
    expect(s.reports).toEqual([
      expect.objectContaining({ pasid: 3, grpid: 0x12, perm: 3, addr: 0x1234_5000n, lastPage: true }),
    ]);
    s.driver.pageResponse(s.dev.ref, 3, 0x12, 0);
    await s.farm.settle();
    expect(s.responses).toEqual([{ rid: 0x400, pasid: 3, tag: 0x12, status: 0 }]);
  });

  test('no handler: the driver answers Invalid; a device without PPR in its DTE gets INVALID_PPR_REQUEST', async () => {
    const s = await pprFarm(false);
    s.hw.pageRequest(0x400, { address: 0x5000n, read: true, tag: 1 });
    await s.farm.settle();
    expect(s.responses).toEqual([{ rid: 0x400, pasid: undefined, tag: 1, status: 1 }]);
    expect(s.driver.events.map((e) => e.name)).toEqual(['INVALID_PPR_REQUEST']);
    const dom = s.driver.domainAllocPaging(s.dev.ref, 0, undefined);
    await dom.attachDev(s.dev.ref, undefined, undefined);
    s.hw.pageRequest(0x400, { address: 0x6000n, read: true, tag: 2 });
    await s.farm.settle();
    expect(s.responses.at(-1)).toEqual({ rid: 0x400, pasid: undefined, tag: 2, status: 1 });
    expect(s.driver.events.map((e) => e.name)).toEqual(['INVALID_PPR_REQUEST']);
  });

  test('PPR log overflow: entries beyond 255 are lost and answered Failure', async () => {
    const b = bareIommu();
    b.setDte(0x40, { ...CLEAR_DTE, ppr: true });
    const responses: PageResponse[] = [];
    b.hw.pageResponses$.subscribe((r) => responses.push(r));
    for (let tag = 0; tag < 260; tag++)
      b.hw.pageRequest(0x40, { address: BigInt(tag) << 12n, read: true, tag });
    await b.settle();
    expect(b.hw.pprLog.pending()).toBe(255);
    expect(b.hw.readReg(R.MMIO_STATUS) & R.STATUS_PPR_OVERFLOW).toBe(R.STATUS_PPR_OVERFLOW);
    expect(responses.map((r) => [r.tag, r.status])).toEqual([255, 256, 257, 258, 259].map((t) => [t, 0xf]));
    const first = decodePpr(b.phys.readU64(b.pprLog), b.phys.readU64(b.pprLog + 8n));
    expect(first).toMatchObject({ devid: 0x40, tag: 0, type: 1, flags: 0x4 | 0x10, address: 0n });
  });
});
