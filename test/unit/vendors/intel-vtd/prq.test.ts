import { describe, expect, test } from 'vitest';
import type { IopfReport } from '../../../../vendors/driver.ts';
import { QI_RESP_INVALID, QI_RESP_SUCCESS } from '../../../../vendors/intel-vtd/descriptors.ts';
import type { PageResponse } from '../../../../vendors/intel-vtd/hardware.ts';
import { DMA_CTL_IM, DMA_PRS_PRO, DMAR_PECTL_REG, DMAR_PRS_REG } from '../../../../vendors/intel-vtd/regs.ts';
import { attachedDomain, vtdFarm } from './helpers.ts';

async function prqEnv(o: { pri?: boolean; prqOrder?: number } = {}) {
  const env = vtdFarm({ ats: true, pri: o.pri ?? true, pasidBits: 8, iommu: { prqOrder: o.prqOrder ?? 4 } });
  await attachedDomain(env);
  const reports: IopfReport[] = [];
  const responses: PageResponse[] = [];
  env.driver.iopf$.subscribe((r) => reports.push(r));
  env.hw.pageResponses$.subscribe((r) => responses.push(r));
  return { ...env, reports, responses };
}

const req = (o: Partial<Parameters<ReturnType<typeof vtdFarm>['hw']['pageRequest']>[0]> = {}) => ({
  rid: 0x0200,
  pasid: 3,
  addr: 0x5000n,
  read: true,
  write: false,
  lpig: true,
  prgIndex: 7,
  ...o,
});

describe('page request queue', () => {
  test('a request reaches the driver as an iopf; its response goes back as a page group response', async () => {
    const env = await prqEnv();
    expect(env.driver.probe(env.dev.ref).priSupported).toBe(true);
    expect(env.hw.pageRequest(req({ write: true }))).toBe(true);
    await env.farm.settle();
    expect(env.reports).toEqual([
      { dev: env.dev.ref, pasid: 3, grpid: 7, perm: 3, addr: 0x5000n, lastPage: true },
    ]);
    env.driver.pageResponse(env.dev.ref, 3, 7, QI_RESP_SUCCESS);
    await env.farm.settle();
    expect(env.responses).toEqual([
      { rid: 0x0200, pasid: 3, prgIndex: 7, code: QI_RESP_SUCCESS, auto: false },
    ]);
    expect(env.hw.regs.read64(0xc0)).toBe(env.hw.regs.read64(0xc8)); // PQH caught up with PQT
  });

  test('a stop marker (LPIG, neither read nor write) gets no report and no response', async () => {
    const env = await prqEnv();
    env.hw.pageRequest(req({ read: false, write: false }));
    await env.farm.settle();
    expect(env.reports).toEqual([]);
    expect(env.responses).toEqual([]);
    expect(env.driver.irqs.prqHandled).toBe(1);
  });

  test('a malformed request (privileged read) is answered Invalid by the driver', async () => {
    const env = await prqEnv();
    env.hw.pageRequest(req({ priv: true }));
    await env.farm.settle();
    expect(env.reports).toEqual([]);
    expect(env.responses).toMatchObject([{ code: QI_RESP_INVALID, prgIndex: 7, auto: false }]);
  });

  test('a full queue sets PRS.PRO and the hardware itself answers dropped group ends with Success', async () => {
    const env = await prqEnv({ prqOrder: 0 });
    env.hw.regs.write32(DMAR_PECTL_REG, DMA_CTL_IM); // the driver does not drain meanwhile
    const accepted = Array.from({ length: 130 }, (_, i) =>
      env.hw.pageRequest(req({ prgIndex: i, lpig: i % 2 === 1 })),
    );
    expect(accepted.filter((a) => a)).toHaveLength(127); // 4 KiB / 32 B, minus the slot that tells full from empty
    expect(env.hw.regs.read32(DMAR_PRS_REG) & DMA_PRS_PRO).toBe(DMA_PRS_PRO);
    await env.farm.settle();
    expect(env.responses).toEqual([
      { rid: 0x0200, pasid: 3, prgIndex: 127, code: QI_RESP_SUCCESS, auto: true },
      { rid: 0x0200, pasid: 3, prgIndex: 129, code: QI_RESP_SUCCESS, auto: true },
    ]);
    env.hw.regs.write32(DMAR_PECTL_REG, 0);
    await env.farm.settle();
    expect(env.reports).toHaveLength(127);
    // The driver drained the queue and cleared PRO.
    expect(env.hw.regs.read32(DMAR_PRS_REG) & DMA_PRS_PRO).toBe(0);
  });

  test('without PRE in the context entry: fault 0x47 and an Invalid response', async () => {
    const env = await prqEnv({ pri: false });
    expect(env.hw.pageRequest(req())).toBe(false);
    await env.farm.settle();
    expect(env.responses).toMatchObject([{ code: QI_RESP_INVALID, auto: true }]);
    expect(env.driver.irqs.faultLog.at(-1)).toMatchObject({ fr: 0x47, sid: 0x0200 });
  });

  test('detaching a PRI device drains its PASID: a fenced wait + IOTLB + dev-TLB submitted with PD', async () => {
    const env = await prqEnv();
    const n = env.driver.qi.log.length;
    await env.driver.blockedDomain.attachDev(env.dev.ref, undefined, undefined);
    const last = env.driver.qi.log.slice(n).at(-1)!;
    expect(last.map((d) => Number(d[0] & 0xfn))).toEqual([5, 2, 3, 5]); // RID_PASID: DSI + legacy dev-TLB
    expect((last[0]![0] >> 6n) & 1n).toBe(1n); // FN
    expect((last[3]![0] >> 7n) & 1n).toBe(1n); // PD on the trailing wait
  });
});
