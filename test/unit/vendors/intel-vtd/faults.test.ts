import { describe, expect, test } from 'vitest';
import { decodeFrcd } from '../../../../vendors/intel-vtd/fault-recording.ts';
import {
  DMA_CTL_IM,
  DMA_CTL_IP,
  DMA_FSTS_PFO,
  DMA_FSTS_PPF,
  DMAR_FECTL_REG,
  DMAR_FSTS_REG,
  FRCD_BASE,
} from '../../../../vendors/intel-vtd/regs.ts';
import { attachedDomain, read, vtdFarm } from './helpers.ts';

const frcd = (env: ReturnType<typeof vtdFarm>, i: number) =>
  decodeFrcd(env.hw.regs.read64(FRCD_BASE + i * 16), env.hw.regs.read64(FRCD_BASE + i * 16 + 8));

describe('fault recording registers', () => {
  test('faults fill FRCD round robin; when the next one still has F set, PFO is set and the fault dropped', async () => {
    const env = vtdFarm({ iommu: { nfr: 4 } });
    const { iova } = await attachedDomain(env);
    env.hw.regs.write32(DMAR_FECTL_REG, DMA_CTL_IM); // keep the driver's handler out of it
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        env.dev.dma({ op: 'write', iova: iova + 0x10_0000n * BigInt(i + 1), length: 4 }),
      ),
    );
    const recorded = results.map((r) =>
      !r.ok && r.fault.vendor === 'intel-vtd' ? r.fault.record.recorded : 'ok',
    );
    expect(recorded).toEqual(['yes', 'yes', 'yes', 'yes', 'overflow', 'overflow']);
    const fsts = env.hw.regs.read32(DMAR_FSTS_REG);
    expect(fsts & (DMA_FSTS_PFO | DMA_FSTS_PPF)).toBe(DMA_FSTS_PFO | DMA_FSTS_PPF);
    expect((fsts >> 8) & 0xff).toBe(0); // FRI: the first pending record
    expect(frcd(env, 2)).toMatchObject({
      f: true,
      fr: 0x71,
      sid: 0x0200,
      write: true,
      addr: iova + 0x30_0000n,
    });
    expect(env.hw.regs.read32(DMAR_FECTL_REG) & DMA_CTL_IP).toBe(DMA_CTL_IP);
    // Software clears F of record 0 (write 1 to bit 127) and PFO: the next fault lands there.
    env.hw.regs.write32(FRCD_BASE + 12, 0x8000_0000);
    env.hw.regs.write32(DMAR_FSTS_REG, DMA_FSTS_PFO);
    const again = await read(env.dev, iova + 0x70_0000n);
    expect(!again.ok && again.fault.vendor === 'intel-vtd' && again.fault.record.frcd).toBe(0);
    expect(frcd(env, 0)).toMatchObject({ fr: 0x71, addr: iova + 0x70_0000n, write: false });
  });

  test('unmasking FECTL delivers the pending event; the driver reads and clears every record', async () => {
    const env = vtdFarm({ iommu: { nfr: 4 } });
    const { iova } = await attachedDomain(env);
    env.hw.regs.write32(DMAR_FECTL_REG, DMA_CTL_IM);
    await Promise.all([1n, 2n, 3n].map((i) => read(env.dev, iova + i * 0x10_0000n)));
    await env.farm.settle();
    expect(env.driver.irqs.faultLog).toEqual([]);
    env.hw.regs.write32(DMAR_FECTL_REG, 0);
    await env.farm.settle();
    expect(env.driver.irqs.faultLog.map((f) => f.addr)).toEqual(
      [1n, 2n, 3n].map((i) => iova + i * 0x10_0000n),
    );
    expect(env.hw.regs.read32(DMAR_FSTS_REG) & (DMA_FSTS_PPF | DMA_FSTS_PFO)).toBe(0);
    expect(env.hw.regs.read32(DMAR_FECTL_REG) & DMA_CTL_IP).toBe(0);
  });

  test('FPD in the PASID entry suppresses recording; the DMA still aborts', async () => {
    const env = vtdFarm();
    const { iova } = await attachedDomain(env);
    const info = env.driver.probe(env.dev.ref);
    info.writeEntry(0, { ...info.readEntry(0)!, fpd: true });
    env.hw.translator.pasidCache.clear();
    const r = await read(env.dev, iova + 0x10_0000n);
    expect(!r.ok && r.fault.vendor === 'intel-vtd' && r.fault.record).toMatchObject({
      fr: 0x71,
      recorded: 'suppressed',
    });
    expect(env.hw.faults.recorded).toBe(0);
  });

  test('a device with no context entry faults at the root (0x39), recorded', async () => {
    const env = vtdFarm();
    const r = await read(env.dev, 0x1000n);
    expect(!r.ok && r.fault).toMatchObject({ reason: 'blocked', record: { fr: 0x39, recorded: 'yes' } });
  });
});
