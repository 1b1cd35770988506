import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { type AmdEvent, decodeEvent, decodePpr, EVENT_SIZE, PPR_SIZE, type PprEntry } from './events.ts';
import type { AmdViHardware } from './hardware.ts';
import * as R from './regs.ts';

export interface IrqSink {
  event(e: AmdEvent & { name: string }): void;
  ppr(p: PprEntry): void;
}

/**
 * The driver's interrupt thread (`amd_iommu_int_thread`): while the status register shows
 * event or PPR work, acknowledge it, consume the log from head to tail, write the head back;
 * after an overflow, restart the log (`amd_iommu_restart_log`: disable, clear the bit, enable).
 */
export class IrqThread {
  /** Times a log was restarted after an overflow. */
  restarts = 0;

  constructor(
    private readonly hw: AmdViHardware,
    private readonly phys: PhysMemory,
    private readonly eventLog: bigint,
    private readonly pprLog: bigint | undefined,
    private readonly logBytes: number,
    private readonly sink: IrqSink,
  ) {}

  start(): void {
    this.hw.eventIrq.interrupts$.subscribe(() => this.run());
  }

  run(): void {
    const mask = R.STATUS_EVT_INT | R.STATUS_EVT_OVERFLOW | R.STATUS_PPR_INT | R.STATUS_PPR_OVERFLOW;
    let status = this.hw.readReg(R.MMIO_STATUS);
    while (status & mask) {
      this.hw.writeReg(R.MMIO_STATUS, status & mask);
      if (status & (R.STATUS_EVT_INT | R.STATUS_EVT_OVERFLOW)) this.#pollEvents();
      if (status & (R.STATUS_PPR_INT | R.STATUS_PPR_OVERFLOW) && this.pprLog !== undefined) this.#pollPpr();
      if (status & R.STATUS_EVT_OVERFLOW)
        this.#restart(R.CONTROL_EVT_LOG_EN, R.CONTROL_EVT_INT_EN, R.STATUS_EVT_RUN, R.STATUS_EVT_OVERFLOW);
      if (status & R.STATUS_PPR_OVERFLOW)
        this.#restart(R.CONTROL_PPRLOG_EN, R.CONTROL_PPRINT_EN, R.STATUS_PPR_RUN, R.STATUS_PPR_OVERFLOW);
      status = this.hw.readReg(R.MMIO_STATUS);
    }
  }

  #pollEvents(): void {
    let head = Number(this.hw.readReg(R.MMIO_EVT_HEAD));
    const tail = Number(this.hw.readReg(R.MMIO_EVT_TAIL));
    while (head !== tail) {
      const at = this.eventLog + BigInt(head);
      const w = [0, 4, 8, 12].map((o) => this.phys.readU32(at + BigInt(o))) as [
        number,
        number,
        number,
        number,
      ];
      this.sink.event(decodeEvent(w));
      head = (head + EVENT_SIZE) % this.logBytes;
    }
    this.hw.writeReg(R.MMIO_EVT_HEAD, BigInt(head));
  }

  #pollPpr(): void {
    let head = Number(this.hw.readReg(R.MMIO_PPR_HEAD));
    const tail = Number(this.hw.readReg(R.MMIO_PPR_TAIL));
    while (head !== tail) {
      const at = this.pprLog! + BigInt(head);
      this.sink.ppr(decodePpr(this.phys.readU64(at), this.phys.readU64(at + 8n)));
      head = (head + PPR_SIZE) % this.logBytes;
    }
    this.hw.writeReg(R.MMIO_PPR_HEAD, BigInt(head));
  }

  #restart(logEn: bigint, intEn: bigint, run: bigint, overflow: bigint): void {
    if (this.hw.readReg(R.MMIO_STATUS) & run) return;
    this.restarts++;
    const control = this.hw.readReg(R.MMIO_CONTROL);
    this.hw.writeReg(R.MMIO_CONTROL, control & ~(logEn | intEn));
    this.hw.writeReg(R.MMIO_STATUS, overflow);
    this.hw.writeReg(R.MMIO_CONTROL, control | logEn | intEn);
  }
}
