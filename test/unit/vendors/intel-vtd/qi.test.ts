import { describe, expect, test } from 'vitest';
import type { FarmEvent } from '../../../../actors/runtime/trace.ts';
import { QI_IWD_IF } from '../../../../vendors/intel-vtd/descriptors.ts';
import { descDevIotlb, descPc, descPiotlb, descWait } from '../../../../vendors/intel-vtd/qi-encode.ts';
import {
  DMA_CTL_IM,
  DMA_FSTS_IQE,
  DMA_FSTS_ITE,
  DMAR_FSTS_REG,
  DMAR_ICS_REG,
  DMAR_IECTL_REG,
  DMAR_IQER_REG,
  DMAR_IQH_REG,
  DMAR_IQT_REG,
} from '../../../../vendors/intel-vtd/regs.ts';
import { atsEndpoint, bareVtd, Ring } from './helpers.ts';

function env(timing: { descNs?: number; atcTimeoutNs?: number } = {}) {
  const e = bareVtd({ timing });
  const ring = new Ring(e.hw, e.phys);
  const status = e.phys.allocPage() << 12n;
  const events: FarmEvent[] = [];
  e.farm.events$.subscribe((ev) => events.push(ev));
  const state = () => e.qiActor.getSnapshot() as { value: string; context: Record<string, unknown> };
  return { ...e, ring, status, events, state };
}

const cmds = (events: FarmEvent[]) => events.flatMap((e) => (e.type === 'cmd' ? [`${e.opcode}@${e.t}`] : []));

describe('invalidation queue', () => {
  test('descriptors run in order, one per descNs; the wait writes its status last', async () => {
    const e = env({ descNs: 100 });
    const t0 = e.farm.now;
    e.ring.push(descPc(2, 0, 1), descPiotlb(2, 0, 0n, -1n, false), descWait(0xabc, e.status));
    expect(e.phys.readU32(e.status)).toBe(0);
    expect(e.state().value).toBe('consuming');
    await e.farm.settle();
    expect(e.phys.readU32(e.status)).toBe(0xabc);
    expect(cmds(e.events).map((c) => c.split('@')[0])).toEqual([
      'pc',
      'p_iotlb',
      'inv_wait',
      'inv_wait.done',
    ]);
    expect(e.farm.now - t0).toBeGreaterThanOrEqual(300);
    expect(e.hw.regs.read64(DMAR_IQH_REG)).toBe(e.hw.regs.read64(DMAR_IQT_REG));
    expect(e.state()).toMatchObject({ value: 'idle', context: { consumed: 3, barriers: 1 } });
  });

  test('inv_wait completes only after the device completed the ATC invalidation before it', async () => {
    const e = env();
    const atc = atsEndpoint(e.hw, 0x0300);
    atc.fill(undefined, 0x5000n, { pa: 0x9000n, pageSize: 4096n, read: true, write: true, filledAt: 0 });
    const seen: string[] = [];
    e.qiActor.subscribe((snap: { value: unknown }) => seen.push(`state:${String(snap.value)}`));
    e.ring.push(descDevIotlb(0x300, 0x300, 32, 0x5000n, 0), descWait(1, e.status));
    e.farm.events$.subscribe((ev) => {
      if (ev.type === 'fabric.deliver') seen.push(ev.label);
      if (ev.type === 'cmd' && ev.opcode === 'inv_wait.done') seen.push(`done:${e.phys.readU32(e.status)}`);
    });
    await e.farm.settle();
    expect(atc.size).toBe(0);
    expect(e.phys.readU32(e.status)).toBe(1);
    const cpl = seen.indexOf('ats.inv.cpl');
    expect(seen.indexOf('ats.inv')).toBeLessThan(cpl);
    expect(seen.indexOf('done:0')).toBeGreaterThan(cpl);
    expect(seen).toContain('state:waiting');
  });

  test('IF=1 sets ICS.IWC and raises the completion interrupt; masked, it pends until unmasked', async () => {
    const e = env();
    const irqs: bigint[] = [];
    e.hw.qi.irq.interrupts$.subscribe((n) => irqs.push(n));
    e.ring.push(descWait(1, e.status, QI_IWD_IF));
    await e.farm.settle();
    expect(e.hw.regs.read32(DMAR_ICS_REG)).toBe(1);
    expect(irqs).toEqual([]); // IECTL.IM is set out of reset
    e.hw.regs.write32(DMAR_IECTL_REG, 0);
    await e.farm.settle();
    expect(irqs).toEqual([1n]);
    e.hw.regs.write32(DMAR_ICS_REG, 1);
    e.ring.push(descWait(2, e.status, QI_IWD_IF));
    await e.farm.settle();
    expect(irqs).toEqual([1n, 1n]);
    e.hw.regs.write32(DMAR_IECTL_REG, DMA_CTL_IM);
  });

  test('an illegal descriptor sets IQE and halts with IQH on it; software fixes it and clears IQE', async () => {
    const e = env();
    const status2 = e.status + 4n;
    e.ring.put(descPc(2, 0, 1));
    e.ring.put(descWait(1, e.status));
    const bad = e.ring.put([0xfn, 0n, 0n, 0n]);
    e.ring.put(descWait(2, status2));
    e.ring.doorbell();
    await e.farm.settle();
    expect(e.hw.regs.read32(DMAR_FSTS_REG) & DMA_FSTS_IQE).toBe(DMA_FSTS_IQE);
    expect(Number(e.hw.regs.read64(DMAR_IQH_REG) >> 5n)).toBe(bad);
    expect(Number(e.hw.regs.read64(DMAR_IQER_REG) & 0xfn)).toBe(3);
    expect(e.phys.readU32(e.status)).toBe(1); // before the bad one: done
    expect(e.phys.readU32(status2)).toBe(0); // after it: not run
    expect(e.state()).toMatchObject({ value: 'halted', context: { error: 'IQE', errorIndex: bad } });
    // Nothing is fetched while IQE is set, even with more work queued.
    e.ring.push(descWait(3, e.status + 8n));
    await e.farm.settle();
    expect(e.phys.readU32(e.status + 8n)).toBe(0);
    // Linux overwrites the bad slot with a wait, then clears IQE: fetching resumes at IQH.
    const at = e.ring.base + BigInt(bad * 32);
    for (const [i, w] of descWait(9, e.status + 12n).entries()) e.phys.writeU64(at + BigInt(i * 8), w);
    e.hw.regs.write32(DMAR_FSTS_REG, DMA_FSTS_IQE);
    await e.farm.settle();
    expect([e.phys.readU32(e.status + 12n), e.phys.readU32(status2), e.phys.readU32(e.status + 8n)]).toEqual([
      9, 2, 3,
    ]);
    expect(e.state()).toMatchObject({ value: 'idle', context: { error: undefined } });
  });

  test('a device-TLB invalidation that never completes sets ITE and aborts the fetched wait', async () => {
    const e = env({ atcTimeoutNs: 5000 });
    atsEndpoint(e.hw, 0x0400);
    e.hw.atcUnresponsive.add(0x0400);
    const t0 = e.farm.now;
    e.ring.push(descDevIotlb(0x400, 0x400, 32, 0n, 52), descWait(1, e.status));
    await e.farm.settle();
    expect(e.farm.now - t0).toBeGreaterThanOrEqual(5000);
    expect(e.hw.regs.read32(DMAR_FSTS_REG) & DMA_FSTS_ITE).toBe(DMA_FSTS_ITE);
    expect(Number((e.hw.regs.read64(DMAR_IQER_REG) >> 32n) & 0xffffn)).toBe(0x400);
    expect(e.phys.readU32(e.status)).toBe(0);
    expect(e.hw.qi.waitsAborted).toBe(1);
    expect(e.state()).toMatchObject({ value: 'halted', context: { error: 'ITE' } });
    // Queued work waits for software; clearing ITE resumes fetching.
    e.ring.push(descWait(2, e.status + 4n));
    await e.farm.settle();
    expect(e.phys.readU32(e.status + 4n)).toBe(0);
    e.hw.regs.write32(DMAR_FSTS_REG, DMA_FSTS_ITE);
    await e.farm.settle();
    expect(e.phys.readU32(e.status + 4n)).toBe(2);
    expect(e.phys.readU32(e.status)).toBe(0);
  });

  test('IQT out of range, or a 128-bit-aligned tail in 256-bit mode, is IQE', async () => {
    const e = env();
    e.hw.regs.write64(DMAR_IQT_REG, 0x10n);
    await e.farm.settle();
    expect(e.hw.regs.read32(DMAR_FSTS_REG) & DMA_FSTS_IQE).toBe(DMA_FSTS_IQE);
    expect(Number(e.hw.regs.read64(DMAR_IQER_REG) & 0xfn)).toBe(1);
  });

  test('a 128-bit queue rejects the scalable-mode descriptor types', async () => {
    const e = bareVtd();
    const ring = new Ring(e.hw, e.phys, false);
    ring.push(descPc(1, 1, 1));
    await e.farm.settle();
    expect(e.hw.regs.read32(DMAR_FSTS_REG) & DMA_FSTS_IQE).toBe(DMA_FSTS_IQE);
    expect(Number(e.hw.regs.read64(DMAR_IQER_REG) & 0xfn)).toBe(4);
  });
});
