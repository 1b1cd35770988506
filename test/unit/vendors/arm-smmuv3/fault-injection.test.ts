import { describe, expect, test } from 'vitest';
import type { Smmuv3DriverFaults } from '../../../../vendors/arm-smmuv3/driver-cmdq.ts';
import { attachedDevice, page, RW, smmuRig } from './helpers.ts';

type Switch = keyof Smmuv3DriverFaults;

/** Each switch with the device it needs to become observable. */
const UNMAP_CASES: Array<{ sw: Switch; ats: boolean; why: string }> = [
  { sw: 'skipIotlbInvalidation', ats: false, why: 'the IOTLB keeps the translation' },
  { sw: 'wrongInvalidationTag', ats: false, why: 'the TLBI hits another ASID' },
  { sw: 'skipSync', ats: false, why: 'unmap returns before the TLBI ran' },
  { sw: 'skipAtcInvalidation', ats: true, why: "the device's ATC keeps the translation" },
];

/** Commands take 1 µs here, longer than a DMA's trip, so a missing sync leaves a visible window. */
async function mappedAndCached(ats: boolean) {
  const rig = await smmuRig({ cmdNs: 1000 });
  const { dev, dom } = await attachedDevice(rig, { ats });
  dom.map(0x40000n, page(rig.host, 0x5e), 4096n, RW);
  expect(await dev.dma({ op: 'read', iova: 0x40000n, length: 2 })).toMatchObject({ ok: true });
  return { rig, dev, dom };
}

describe('driver fault injection: a forgotten step is a stale DMA', () => {
  describe.each(UNMAP_CASES)('$sw ($why)', ({ sw, ats }) => {
    test('with the switch on, the DMA right after unmap still reads the old page', async () => {
      const { rig, dev, dom } = await mappedAndCached(ats);
      rig.drv.faults[sw] = true;
      await dom.unmap(0x40000n, 4096n);
      const r = await dev.dma({ op: 'read', iova: 0x40000n, length: 2 });
      expect(r).toMatchObject({ ok: true, data: new Uint8Array([0x5e, 0x5e]) });
    });

    test('with the switch off, the same DMA faults', async () => {
      const { dev, dom } = await mappedAndCached(ats);
      await dom.unmap(0x40000n, 4096n);
      expect(await dev.dma({ op: 'read', iova: 0x40000n, length: 2 })).toMatchObject({ ok: false });
    });
  });

  test('skipSync: the TLBI does land later, so the staleness is a window', async () => {
    const { rig, dev, dom } = await mappedAndCached(false);
    rig.drv.faults.skipSync = true;
    await dom.unmap(0x40000n, 4096n);
    await rig.farm.scheduler.settle();
    expect(await dev.dma({ op: 'read', iova: 0x40000n, length: 2 })).toMatchObject({ ok: false });
  });

  test('skipCfgi: after detach the SMMU keeps using the cached STE and CD', async () => {
    for (const skip of [true, false]) {
      const { rig, dev, dom } = await mappedAndCached(false);
      rig.drv.faults.skipCfgi = skip;
      await rig.drv.blockedDomain.attachDev(dev.ref, undefined, dom);
      const r = await dev.dma({ op: 'read', iova: 0x40000n, length: 2 });
      expect(r.ok).toBe(skip);
    }
  });

  test('hardware: a device that never completes ATC invalidations makes every sync time out', async () => {
    const { rig, dev, dom } = await mappedAndCached(true);
    rig.hw.faults.atcNoResponse = true;
    await dom.unmap(0x40000n, 4096n);
    // The ATC was still invalidated (only the completion was lost), and the driver recovered.
    expect(dev.atc!.size).toBe(0);
    expect(rig.drv.irqs.gerrors).toBeGreaterThan(0);
  });
});
