import { fc, test as ftest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import {
  CMDQ_OP_ATC_INV,
  CMDQ_OP_CFGI_STE,
  CMDQ_OP_CMD_SYNC,
  CMDQ_OP_PREFETCH_CFG,
  CMDQ_OP_TLBI_NH_ASID,
  CMDQ_OPS,
  decodeCmd,
  encodeCmd,
} from '../../../../vendors/arm-smmuv3/cmd.ts';
import { qIdx } from '../../../../vendors/arm-smmuv3/queue.ts';
import * as R from '../../../../vendors/arm-smmuv3/regs.ts';
import { attachedDevice, page, RW, type SmmuRig, smmuRig } from './helpers.ts';

const CTX = { sidBits: 16, ssidBits: 20, ril: true, hyp: true, s2: true, ats: true, pri: true };

/** Stops the driver from fixing errors itself: no GERROR interrupt. */
function maskGerror(rig: SmmuRig): void {
  rig.hw.write32(R.ARM_SMMU_IRQ_CTRL, R.IRQ_CTRL_EVTQ_IRQEN | R.IRQ_CTRL_PRIQ_IRQEN);
}

function cmdqState(rig: SmmuRig): unknown {
  return rig.hw.cmdq.actor.getSnapshot().value;
}

async function atsRig() {
  const rig = await smmuRig({ atcLatencyNs: 500 });
  const { dev, dom } = await attachedDevice(rig, { ats: true });
  dom.map(0x10000n, page(rig.host, 0x5a), 4096n, RW);
  const r = await dev.dma({ op: 'read', iova: 0x10000n, length: 8 });
  expect(r.ok).toBe(true);
  expect(dev.atc!.size).toBe(1);
  return { rig, dev, dom };
}

describe('SMMUv3 CMDQ', () => {
  test('consumes in order, taking virtual time per command, and goes idle', async () => {
    const rig = await smmuRig({ cmdNs: 100 });
    const t0 = rig.farm.now;
    const before = rig.hw.cmdq.consumed;
    const cmds = [1, 2, 3].map((sid) => ({ op: CMDQ_OP_CFGI_STE, sid, leaf: 1 }));
    expect(await rig.drv.cmdq.issue(cmds, true)).toBe(true);
    expect(rig.farm.now - t0).toBeGreaterThanOrEqual(400);
    expect(rig.hw.cmdq.consumed - before).toBe(4);
    expect(rig.hw.read32(R.ARM_SMMU_CMDQ_CONS)).toBe(rig.hw.read32(R.ARM_SMMU_CMDQ_PROD));
    await rig.farm.scheduler.settle();
    expect(cmdqState(rig)).toBe('idle');
    expect(rig.hw.cmdq.actor.getSnapshot().context.barriers).toBeGreaterThanOrEqual(4);
  });

  test('concurrent submitters wrap the ring (wrap bit) without losing or reordering commands', async () => {
    const rig = await smmuRig({ cmdqLog2: 7 });
    const before = rig.hw.cmdq.consumed;
    const batch = Array.from({ length: 60 }, (_, i) => ({ op: CMDQ_OP_PREFETCH_CFG, sid: i }));
    const all = await Promise.all([1, 2, 3, 4, 5].map(() => rig.drv.cmdq.issue(batch, true)));
    expect(all).toEqual([true, true, true, true, true]);
    expect(rig.hw.cmdq.consumed - before).toBe(305);
    expect(rig.hw.read32(R.ARM_SMMU_CMDQ_CONS)).toBe(rig.hw.read32(R.ARM_SMMU_CMDQ_PROD));
    expect(rig.drv.cmdq.timeouts).toBe(0);
  });

  test('CMD_SYNC completes only after the device completed the ATC invalidation', async () => {
    const { rig, dev } = await atsRig();
    const states: unknown[] = [];
    const sub = rig.farm.events$.subscribe((e) => {
      if (e.type === 'actor.transition' && e.actor === 'h0/smmu0/cmdq') states.push(e.state);
    });
    const t0 = rig.farm.now;
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_ATC_INV, sid: dev.ref.rid, size: 52 }], true);
    sub.unsubscribe();
    expect(dev.atc!.size).toBe(0);
    // Request and completion each cross the fabric (500 ns), so the sync cannot finish earlier.
    expect(rig.farm.now - t0).toBeGreaterThanOrEqual(1000);
    expect(states).toContain('waiting');
  });

  test('an illegal command halts CONS at it with CERROR_ILL until GERRORN is acknowledged', async () => {
    const rig = await smmuRig();
    maskGerror(rig);
    const { dev, dom } = await attachedDevice(rig);
    dom.map(0x2000n, page(rig.host, 1), 4096n, RW);
    expect((await dev.dma({ op: 'read', iova: 0x2000n, length: 4 })).ok).toBe(true);
    const sid = dev.ref.rid;
    expect(rig.hw.cache.sids.has(sid)).toBe(true);
    const badAt = rig.drv.cmdq.prod;
    await rig.drv.cmdq.issueRaw([[0xffn, 0n]], false);
    await rig.drv.cmdq.issue([{ op: CMDQ_OP_CFGI_STE, sid, leaf: 1 }], false);
    await rig.farm.scheduler.settle();
    const cons = rig.hw.read32(R.ARM_SMMU_CMDQ_CONS);
    expect(qIdx(cons, rig.drv.cmdq.log2)).toBe(qIdx(badAt, rig.drv.cmdq.log2));
    expect((cons & R.CMDQ_CONS_ERR_MASK) >>> 24).toBe(R.CMDQ_ERR_CERROR_ILL_IDX);
    const active = rig.hw.read32(R.ARM_SMMU_GERROR) ^ rig.hw.read32(R.ARM_SMMU_GERRORN);
    expect(active & R.GERROR_CMDQ_ERR).toBe(R.GERROR_CMDQ_ERR);
    expect(cmdqState(rig)).toBe('halted');
    // The CFGI_STE behind the bad entry has not run: the STE is still cached.
    expect(rig.hw.cache.sids.has(sid)).toBe(true);
    // Software skips it (overwrites with a CMD_SYNC) and acknowledges.
    const [s0, s1] = encodeCmd({ op: CMDQ_OP_CMD_SYNC });
    const slot = rig.drv.cmdq.slotAddress(badAt);
    rig.host.phys.writeU64(slot, s0);
    rig.host.phys.writeU64(slot + 8n, s1);
    rig.hw.write32(R.ARM_SMMU_GERRORN, rig.hw.read32(R.ARM_SMMU_GERROR));
    await rig.farm.scheduler.settle();
    expect(rig.hw.read32(R.ARM_SMMU_CMDQ_CONS)).toBe(rig.hw.read32(R.ARM_SMMU_CMDQ_PROD));
    expect(rig.hw.cache.sids.has(sid)).toBe(false);
    expect(cmdqState(rig)).toBe('idle');
  });

  test('the driver skips an illegal command like arm_smmu_cmdq_skip_err, and its sync completes', async () => {
    const rig = await smmuRig();
    expect(await rig.drv.cmdq.issueRaw([[0x7fn, 0n]], true)).toBe(true);
    expect(rig.drv.irqs.gerrors).toBe(1);
    expect(rig.drv.irqs.log.map((l) => l.msg).join('\n')).toContain('CERROR_ILL');
    expect(cmdqState(rig)).not.toBe('halted');
  });

  test('an ATC invalidation that times out fails the next CMD_SYNC with CERROR_ATC_INV_SYNC', async () => {
    const { rig, dev } = await atsRig();
    maskGerror(rig);
    rig.hw.faults.atcNoResponse = true;
    const syncAt = rig.drv.cmdq.prod + 1;
    const done = rig.drv.cmdq.issue([{ op: CMDQ_OP_ATC_INV, sid: dev.ref.rid, size: 52 }], true);
    // Not settle(): that would also run out the driver's 1 s poll timeout.
    while (!rig.hw.cmdq.halted) await rig.hw.cmdq.progress();
    const cons = rig.hw.read32(R.ARM_SMMU_CMDQ_CONS);
    expect((cons & R.CMDQ_CONS_ERR_MASK) >>> 24).toBe(R.CMDQ_ERR_CERROR_ATC_INV_IDX);
    expect(qIdx(cons, rig.drv.cmdq.log2)).toBe(qIdx(syncAt, rig.drv.cmdq.log2));
    // The device still dropped its entries; only the completion was lost.
    expect(dev.atc!.size).toBe(0);
    // Acknowledging re-executes the CMD_SYNC, which now has nothing outstanding.
    rig.hw.write32(R.ARM_SMMU_GERRORN, rig.hw.read32(R.ARM_SMMU_GERROR));
    expect(await done).toBe(true);
  });

  test('with the GERROR interrupt the driver retries the timed-out sync and the unmap completes', async () => {
    const { rig, dev, dom } = await atsRig();
    rig.hw.faults.atcNoResponse = true;
    const t0 = rig.farm.now;
    await dom.unmap(0x10000n, 4096n);
    expect(rig.farm.now - t0).toBeGreaterThanOrEqual(100_000);
    expect(rig.drv.irqs.log.map((l) => l.msg).join('\n')).toContain('CERROR_ATC_INV_SYNC');
    expect((await dev.dma({ op: 'read', iova: 0x10000n, length: 4 })).ok).toBe(false);
  });

  test('CS=SIG_IRQ writes MSIDATA to MSIADDR and interrupts; CS=SIG_SEV signals an event', async () => {
    const rig = await smmuRig();
    const irqs: bigint[] = [];
    rig.hw.irq.cmdqSync.interrupts$.subscribe((n) => irqs.push(n));
    const msi = rig.host.phys.allocPage() << 12n;
    await rig.drv.cmdq.issueRaw(
      [encodeCmd({ op: CMDQ_OP_CMD_SYNC, cs: 1, msiaddr: msi + 8n, msidata: 0xc0ffee })],
      false,
    );
    await rig.farm.scheduler.settle();
    expect(rig.host.phys.readU32(msi + 8n)).toBe(0xc0ffee);
    expect(irqs.reduce((a, b) => a + b, 0n)).toBeGreaterThanOrEqual(1n);
    const sev = rig.hw.irq.sev.count;
    await rig.drv.cmdq.issueRaw([encodeCmd({ op: CMDQ_OP_CMD_SYNC, cs: 2 })], false);
    await rig.farm.scheduler.settle();
    expect(rig.hw.irq.sev.count).toBe(sev + 1n);
  });

  test('without MSI polling the driver syncs with CS=SEV and polls CONS', async () => {
    const rig = await smmuRig({ msiPoll: false });
    const sev = rig.hw.irq.sev.count;
    expect(await rig.drv.cmdq.issue([{ op: CMDQ_OP_TLBI_NH_ASID, asid: 3 }], true)).toBe(true);
    expect(rig.hw.irq.sev.count).toBeGreaterThan(sev);
  });
});

const LEGAL = [
  encodeCmd({ op: CMDQ_OP_PREFETCH_CFG, sid: 0x42 }),
  encodeCmd({ op: CMDQ_OP_TLBI_NH_ASID, asid: 999 }),
  encodeCmd({ op: CMDQ_OP_CFGI_STE, sid: 0x4242, leaf: 1 }),
];

/** Entries the architecture makes CERROR_ILL: unknown opcodes, or a known one with a reserved bit. */
const garbage = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 0, max: 255 }),
      fc.bigInt({ min: 0n, max: (1n << 56n) - 1n }),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    )
    .filter(([op]) => !CMDQ_OPS.has(op))
    .map(([op, hi, dw1]) => [BigInt(op) | (hi << 8n), dw1] as const),
  fc
    .tuple(fc.constantFrom(...CMDQ_OPS.keys()), fc.integer({ min: 8, max: 127 }))
    .map(([op, b]) =>
      b < 64
        ? ([BigInt(op) | (1n << BigInt(b)), 0n] as const)
        : ([BigInt(op), 1n << BigInt(b - 64)] as const),
    )
    .filter(([d0, d1]) => !decodeCmd(d0, d1, CTX).ok),
);

describe('garbage in the CMDQ', () => {
  ftest.prop(
    [
      fc.array(fc.nat(LEGAL.length - 1), { maxLength: 4 }),
      garbage,
      fc.array(fc.nat(LEGAL.length - 1), { maxLength: 4 }),
    ],
    { numRuns: 25 },
  )(
    'halts exactly at the first bad entry with CERROR_ILL and touches nothing else',
    async (before, bad, after) => {
      const rig = await smmuRig();
      maskGerror(rig);
      const { dev, dom } = await attachedDevice(rig);
      dom.map(0x2000n, page(rig.host, 7), 4096n, RW);
      expect((await dev.dma({ op: 'read', iova: 0x2000n, length: 4 })).ok).toBe(true);
      const evtqProd = rig.hw.evtq.prod;
      const tlb = rig.hw.iotlb.size;
      const start = rig.hw.cmdq.consumed;
      const badAt = rig.drv.cmdq.prod + before.length;
      await rig.drv.cmdq.issueRaw(
        [...before.map((i) => LEGAL[i]!), bad, ...after.map((i) => LEGAL[i]!)],
        false,
      );
      await rig.farm.scheduler.settle();
      const cons = rig.hw.read32(R.ARM_SMMU_CMDQ_CONS);
      expect(qIdx(cons, rig.drv.cmdq.log2)).toBe(qIdx(badAt, rig.drv.cmdq.log2));
      expect((cons & R.CMDQ_CONS_ERR_MASK) >>> 24).toBe(R.CMDQ_ERR_CERROR_ILL_IDX);
      expect(rig.hw.cmdq.consumed - start).toBe(before.length);
      expect(rig.hw.evtq.prod).toBe(evtqProd);
      expect(rig.hw.iotlb.size).toBe(tlb);
      const again = await dev.dma({ op: 'read', iova: 0x2000n, length: 4 });
      expect(again.ok).toBe(true);
    },
  );
});
