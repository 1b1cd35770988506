import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import type { FarmEvent } from '../../../../actors/runtime/trace.ts';
import {
  buildCompletionWait,
  buildInvAll,
  buildInvDte,
  buildInvIommuPages,
  buildInvIotlbPages,
  type CmdWords,
  hasReservedBits,
  opcodeOf,
} from '../../../../vendors/amd-vi/commands.ts';
import * as R from '../../../../vendors/amd-vi/regs.ts';
import { bareIommu } from './helpers.ts';

function traced(b: ReturnType<typeof bareIommu>) {
  const cmds: Array<{ t: number; opcode: string }> = [];
  b.tracer.events$.subscribe((e: FarmEvent) => {
    if (e.type === 'cmd') cmds.push({ t: e.t, opcode: e.opcode });
  });
  return cmds;
}

describe('command buffer: head (hardware) / tail (software)', () => {
  test('consumes in order, one command per 50 ns, one machine summary per batch', async () => {
    const b = bareIommu();
    const cmds = traced(b);
    b.submit(buildInvDte(1), buildInvIommuPages(1, undefined, 0n, 0x1000n), buildCompletionWait(b.sem, 42n));
    await b.settle();
    expect(cmds).toEqual([
      { t: 50, opcode: 'INVALIDATE_DEVTAB_ENTRY' },
      { t: 100, opcode: 'INVALIDATE_IOMMU_PAGES' },
      { t: 150, opcode: 'COMPLETION_WAIT' },
    ]);
    expect(b.phys.readU64(b.sem)).toBe(42n);
    expect(b.hw.readReg(R.MMIO_CMD_HEAD)).toBe(48n);
    expect(b.machine).toEqual([
      { type: 'ENABLE' },
      { type: 'DOORBELL' },
      { type: 'DRAINED', consumed: 3, barriers: 1 },
    ]);
  });

  test('COMPLETION_WAIT waits for the device IOTLB invalidation before it stores', async () => {
    const b = bareIommu();
    const atc = b.addAtsDevice(0x30);
    atc.fill(undefined, 0x7000n, { pa: 0x9000n, pageSize: 4096n, read: true, write: true, filledAt: 0 });
    b.hw.atcBehaviour.set(0x30, { delayNs: 10_000 });
    b.submit(buildInvIotlbPages(0x30, 0x20, 0x7000n, 0x1000n, undefined), buildCompletionWait(b.sem, 7n));
    let storedAt = -1;
    while (b.scheduler.step()) if (storedAt < 0 && b.phys.readU64(b.sem) === 7n) storedAt = b.scheduler.now;
    expect(atc.size).toBe(0);
    expect(storedAt).toBeGreaterThanOrEqual(10_000);
    expect(b.machine.map((e) => e.type)).toEqual(['ENABLE', 'DOORBELL', 'WAIT', 'WAIT_DONE', 'DRAINED']);
  });

  test('no completion within InvTimeOut: IOTLB_INV_TIMEOUT, then the wait completes', async () => {
    const b = bareIommu();
    b.addAtsDevice(0x30);
    b.hw.atcBehaviour.set(0x30, { drop: true });
    b.submit(buildInvIotlbPages(0x30, 0x20, 0n, 0x1000n, 5), buildCompletionWait(b.sem, 9n));
    await b.settle();
    expect(b.scheduler.now).toBeGreaterThanOrEqual(1e9);
    expect(b.phys.readU64(b.sem)).toBe(9n);
    expect(b.hw.cmd.timeouts).toBe(1);
    expect(b.events()).toEqual([
      expect.objectContaining({ name: 'IOTLB_INV_TIMEOUT', devid: 0x30, address: b.cmdBuf }),
    ]);
  });

  test('an illegal command logs ILLEGAL_COMMAND_ERROR and halts there until software restarts', async () => {
    const b = bareIommu();
    const bad: CmdWords = [0, 0xf000_0000, 0, 0];
    b.submit(buildInvDte(1), bad, buildCompletionWait(b.sem, 5n));
    await b.settle();
    expect(b.events()).toEqual([
      expect.objectContaining({ name: 'ILLEGAL_COMMAND_ERROR', address: b.cmdBuf + 16n }),
    ]);
    expect(b.hw.readReg(R.MMIO_CMD_HEAD)).toBe(16n);
    expect(b.hw.readReg(R.MMIO_STATUS) & R.STATUS_CMDBUF_RUN).toBe(0n);
    expect(b.phys.readU64(b.sem)).toBe(0n);
    expect(b.machine.at(-1)).toEqual({ type: 'ERROR', code: 'ILLEGAL_COMMAND_ERROR', index: 1 });
    // More doorbells do nothing while halted.
    b.submit(buildCompletionWait(b.sem, 6n));
    await b.settle();
    expect(b.phys.readU64(b.sem)).toBe(0n);
    // Restart: disable, skip the bad entry, enable (amd_iommu_reset_cmd_buffer style).
    b.hw.writeReg(R.MMIO_CONTROL, b.control & ~R.CONTROL_CMDBUF_EN);
    b.hw.writeReg(R.MMIO_CMD_HEAD, 32n);
    b.hw.writeReg(R.MMIO_CONTROL, b.control);
    await b.settle();
    expect(b.phys.readU64(b.sem)).toBe(6n);
    expect(b.hw.readReg(R.MMIO_STATUS) & R.STATUS_CMDBUF_RUN).toBe(R.STATUS_CMDBUF_RUN);
  });

  test('COMPLETION_WAIT with I=1 raises ComWaitInt and the interrupt eventfd', async () => {
    const b = bareIommu();
    b.hw.writeReg(R.MMIO_CONTROL, b.control | R.CONTROL_COMWAIT_EN);
    const irqs: bigint[] = [];
    b.hw.completionIrq.interrupts$.subscribe((n) => irqs.push(n));
    b.submit(
      buildCompletionWait(0n, 0n, { store: false, irq: true }),
      buildCompletionWait(0n, 0n, { store: false, irq: true }),
    );
    await b.settle();
    expect(b.hw.readReg(R.MMIO_STATUS) & R.STATUS_COM_WAIT_INT).toBe(R.STATUS_COM_WAIT_INT);
    expect(irqs.reduce((a, n) => a + n, 0n)).toBe(2n);
    b.hw.writeReg(R.MMIO_STATUS, R.STATUS_COM_WAIT_INT);
    expect(b.hw.readReg(R.MMIO_STATUS) & R.STATUS_COM_WAIT_INT).toBe(0n);
  });

  test('INVALIDATE_IOMMU_ALL is illegal without EFR.IA', async () => {
    const b = bareIommu({ invalidateAll: false });
    b.submit(buildInvAll());
    await b.settle();
    expect(b.events()[0]).toMatchObject({ name: 'ILLEGAL_COMMAND_ERROR', address: b.cmdBuf });
  });
});

/** Entries that are illegal by construction: an unknown opcode, or a known one with a reserved bit. */
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const unknownOpcode = fc
  .tuple(u32, u32, u32, u32, fc.constantFrom(0, 9, 10, 11, 12, 13, 14, 15))
  .map(([a, b1, c, d, op]) => [a, ((b1 & 0x0fff_ffff) | (op << 28)) >>> 0, c, d] as CmdWords);
const reservedBit = fc
  .tuple(
    fc.constantFrom(1, 2, 3, 4, 5, 8),
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 31 }),
    u32,
    u32,
  )
  .map(([op, word, bit, x, y]) => {
    const w: number[] = [x & 0xffff, op << 28, y & 0xf000, 0];
    w[word] = (w[word]! | (1 << bit)) >>> 0;
    return w as unknown as CmdWords;
  })
  .filter((w) => opcodeOf(w) !== 0 && hasReservedBits(w));

describe('garbage in the command buffer', () => {
  prop.prop([fc.oneof(unknownOpcode, reservedBit), fc.integer({ min: 0, max: 3 })], { numRuns: 50 })(
    'halts at the entry with ILLEGAL_COMMAND_ERROR and touches nothing else',
    async (garbage, before) => {
      const b = bareIommu();
      const valid = Array.from({ length: before }, (_, i) => buildCompletionWait(b.sem, BigInt(i + 1)));
      const devTable = Buffer.from(b.phys.read(b.devTable, 8192));
      b.submit(...valid, garbage, buildCompletionWait(b.sem, 99n));
      await b.settle();
      expect(b.phys.readU64(b.sem)).toBe(BigInt(before));
      expect(b.hw.cmd.head).toBe(before * 16);
      expect(b.hw.cmd.halted).toBe(true);
      expect(b.events()).toEqual([
        expect.objectContaining({ name: 'ILLEGAL_COMMAND_ERROR', address: b.cmdBuf + BigInt(before * 16) }),
      ]);
      expect(Buffer.from(b.phys.read(b.devTable, 8192)).equals(devTable)).toBe(true);
      expect([b.hw.iotlb.size, b.hw.dteCache.size]).toEqual([0, 0]);
    },
  );
});
