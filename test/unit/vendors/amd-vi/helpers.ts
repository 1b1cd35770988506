import { PhysMemory } from '../../../../actors/mem/phys-memory.ts';
import { SimClock } from '../../../../actors/runtime/clock.ts';
import { Rng } from '../../../../actors/runtime/rng.ts';
import { Scheduler } from '../../../../actors/runtime/scheduler.ts';
import { Tracer } from '../../../../actors/runtime/trace.ts';
import type { CmdqEvent } from '../../../../machines/cmdq.machine.ts';
import { CMD_SIZE, type CmdWords } from '../../../../vendors/amd-vi/commands.ts';
import { type Dte, encodeDte } from '../../../../vendors/amd-vi/dte.ts';
import { decodeEvent } from '../../../../vendors/amd-vi/events.ts';
import { AmdViHardware } from '../../../../vendors/amd-vi/hardware.ts';
import { resolveOptions } from '../../../../vendors/amd-vi/options.ts';
import * as R from '../../../../vendors/amd-vi/regs.ts';
import { DeviceAtc } from '../../../../vendors/atc.ts';

export const DEV_IDS = 256;

/**
 * A bare AMD-Vi IOMMU driven at the register level, as software would: a 256-entry device
 * table, a 256-entry command buffer, event and PPR logs, enabled. No driver.
 */
export function bareIommu(opts: Record<string, unknown> = {}) {
  const phys = new PhysMemory();
  const tracer = new Tracer();
  const scheduler = new Scheduler(new SimClock(), new Rng(1), tracer, { auto: false });
  const machine: CmdqEvent[] = [];
  const o = resolveOptions(opts);
  const hw = new AmdViHardware(
    phys,
    scheduler,
    tracer,
    { send: (e) => machine.push(e) },
    {
      name: 'amd0',
      efr: o.efr,
      efr2: o.efr2,
      cmdNs: o.cmdNs,
      linkNs: o.linkNs,
      iotlbEntries: o.iotlbEntries,
    },
  );
  const devTable = phys.allocContiguous(2, 2) << 12n;
  hw.writeReg(R.MMIO_DEV_TABLE, devTable | 1n);
  const cmdBuf = phys.allocContiguous(1, 1) << 12n;
  hw.writeReg(R.MMIO_CMD_BUF, cmdBuf | (8n << 56n));
  const evtLog = phys.allocContiguous(1, 1) << 12n;
  hw.writeReg(R.MMIO_EVT_BUF, evtLog | (8n << 56n));
  const pprLog = phys.allocContiguous(1, 1) << 12n;
  hw.writeReg(R.MMIO_PPR_LOG, pprLog | (8n << 56n));
  const sem = phys.allocPage() << 12n;
  const control =
    R.CONTROL_IOMMU_EN |
    R.CONTROL_CMDBUF_EN |
    R.CONTROL_EVT_LOG_EN |
    R.CONTROL_PPRLOG_EN |
    R.CONTROL_PPR_EN |
    R.CONTROL_GT_EN |
    (R.CTRL_INV_TO_1S << R.CONTROL_INV_TIMEOUT_SHIFT);
  hw.writeReg(R.MMIO_CONTROL, control);
  let tail = 0;
  const ringBytes = 256 * CMD_SIZE;

  return {
    phys,
    scheduler,
    tracer,
    hw,
    machine,
    devTable,
    cmdBuf,
    evtLog,
    pprLog,
    sem,
    control,
    /** Writes a DTE (no invalidation). */
    setDte(devid: number, dte: Dte) {
      const q = encodeDte(dte);
      for (let i = 0; i < 4; i++) phys.writeU64(devTable + BigInt(devid * 32 + i * 8), q[i]!);
    },
    setDteRaw(devid: number, q: readonly bigint[]) {
      for (let i = 0; i < q.length; i++) phys.writeU64(devTable + BigInt(devid * 32 + i * 8), q[i]!);
    },
    /** Copies commands at the tail and rings the doorbell once. */
    submit(...cmds: CmdWords[]) {
      for (const c of cmds) {
        for (let i = 0; i < 4; i++) phys.writeU32(cmdBuf + BigInt(tail + i * 4), c[i]!);
        tail = (tail + CMD_SIZE) % ringBytes;
      }
      hw.writeReg(R.MMIO_CMD_TAIL, BigInt(tail));
    },
    resetTail(t: number) {
      tail = t;
    },
    settle: () => scheduler.settle(),
    /** Event log entries between head and tail, decoded. */
    events() {
      const out = [];
      for (let at = hw.eventLog.head; at !== hw.eventLog.tail; at = (at + 16) % hw.eventLog.bytes) {
        const a = evtLog + BigInt(at);
        out.push(
          decodeEvent(
            [0, 4, 8, 12].map((o) => phys.readU32(a + BigInt(o))) as [number, number, number, number],
          ),
        );
      }
      return out;
    },
    /** A device with an ATC behind this IOMMU. */
    addAtsDevice(rid: number, name = `dev${rid}`) {
      const atc = new DeviceAtc();
      hw.registerDevice(rid, { name, atc });
      return atc;
    },
  };
}

export type BareIommu = ReturnType<typeof bareIommu>;

/** A 4 KiB page with `fill` written into its first bytes; returns its PA. */
export function dataPage(phys: PhysMemory, fill: number): bigint {
  const pa = phys.allocPage() << 12n;
  phys.write(pa, new Uint8Array(16).fill(fill));
  return pa;
}
