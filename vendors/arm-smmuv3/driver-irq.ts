import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import { CMDQ_OP_PRI_RESP, CMDQ_PRI_1_RESP_DENY } from './cmd.ts';
import type { DriverCmdq } from './driver-cmdq.ts';
import { decodeEvent, decodePri, EVT_NAMES, type EventRecord, type PriRequest } from './event.ts';
import type { Smmuv3Hardware } from './hardware.ts';
import { qEmpty, qIdx, qInc } from './queue.ts';
import * as R from './regs.ts';

/** A ring the driver consumes (EVTQ or PRIQ): its memory and its PROD/CONS registers. */
export interface DriverOutQueue {
  readonly base: bigint;
  readonly log2: number;
  readonly dwords: number;
  readonly prodReg: number;
  readonly consReg: number;
  cons: number;
}

export function allocDriverQueue(
  phys: PhysMemory,
  log2: number,
  dwords: number,
  prodReg: number,
  consReg: number,
): DriverOutQueue {
  const pages = Math.max(1, ((1 << log2) * dwords * 8) / 4096);
  return { base: phys.allocContiguous(pages, pages) << 12n, log2, dwords, prodReg, consReg, cons: 0 };
}

export interface DriverLog {
  readonly t: number;
  readonly msg: string;
}

/**
 * The driver's interrupt handlers: the GERROR handler (skipping a bad command the way
 * `arm_smmu_cmdq_skip_err` does), and the EVTQ and PRIQ threads that drain the rings and
 * acknowledge overflow.
 */
export class DriverIrqs {
  readonly events: EventRecord[] = [];
  readonly pageRequests: PriRequest[] = [];
  readonly log: DriverLog[] = [];
  evtqOverflows = 0;
  priqOverflows = 0;
  gerrors = 0;

  constructor(
    private readonly hw: Smmuv3Hardware,
    private readonly phys: PhysMemory,
    private readonly scheduler: Scheduler,
    private readonly cmdq: DriverCmdq,
    readonly evtq: DriverOutQueue,
    readonly priq: DriverOutQueue | undefined,
  ) {
    hw.irq.gerror.interrupts$.subscribe(() => this.gerrorHandler());
    hw.irq.evtq.interrupts$.subscribe(() => this.evtqThread());
    hw.irq.priq.interrupts$.subscribe(() => this.priqThread());
  }

  #log(msg: string): void {
    this.log.push({ t: this.scheduler.now, msg });
    if (this.log.length > 256) this.log.shift();
  }

  /** `arm_smmu_gerror_handler`. */
  gerrorHandler(): void {
    const gerror = this.hw.read32(R.ARM_SMMU_GERROR);
    const gerrorn = this.hw.read32(R.ARM_SMMU_GERRORN);
    const active = (gerror ^ gerrorn) & R.GERROR_ERR_MASK;
    if (!active) return;
    this.gerrors++;
    this.#log(`unexpected global error reported (0x${active.toString(16)}), this could be serious`);
    if (active & R.GERROR_CMDQ_ERR) this.#skipErr();
    this.hw.write32(R.ARM_SMMU_GERRORN, gerror);
  }

  /** `arm_smmu_cmdq_skip_err`: overwrite an illegal command with a CMD_SYNC; retry the rest. */
  #skipErr(): void {
    const cons = this.hw.read32(R.ARM_SMMU_CMDQ_CONS);
    const idx = (cons & R.CMDQ_CONS_ERR_MASK) >>> R.CMDQ_CONS_ERR_SHIFT;
    const name = R.CERROR_NAMES[idx] ?? 'UNKNOWN';
    this.#log(`CMDQ error (cons 0x${cons.toString(16)}): ${name}`);
    if (idx === R.CMDQ_ERR_CERROR_ABT_IDX) {
      this.#log('retrying command fetch');
      return;
    }
    // An ATC invalidation timed out: CONS is at the CMD_SYNC, which is simply retried.
    if (idx === R.CMDQ_ERR_CERROR_ATC_INV_IDX) return;
    const [dw0, dw1] = this.cmdq.syncEntryAt(cons);
    const pa = this.cmdq.slotAddress(cons);
    this.phys.writeU64(pa, dw0);
    this.phys.writeU64(pa + 8n, dw1);
  }

  #drain(q: DriverOutQueue, handle: (words: bigint[]) => void): boolean {
    let overflow = false;
    for (;;) {
      const prod = this.hw.read32(q.prodReg);
      if (qEmpty(prod, q.cons, q.log2)) {
        overflow = (prod & R.Q_OVERFLOW_FLAG) !== (q.cons & R.Q_OVERFLOW_FLAG);
        // Acknowledge the overflow (OVACKFLG := OVFLG) with the final CONS.
        q.cons = ((q.cons & ~R.Q_OVERFLOW_FLAG) | (prod & R.Q_OVERFLOW_FLAG)) >>> 0;
        this.hw.write32(q.consReg, q.cons);
        return overflow;
      }
      const at = q.base + BigInt(qIdx(q.cons, q.log2) * q.dwords * 8);
      const words: bigint[] = [];
      for (let i = 0; i < q.dwords; i++) words.push(this.phys.readU64(at + BigInt(i * 8)));
      handle(words);
      q.cons = qInc(q.cons, q.log2);
      this.hw.write32(q.consReg, q.cons);
    }
  }

  /** `arm_smmu_evtq_thread`: log each event; report overflow. */
  evtqThread(): void {
    const overflow = this.#drain(this.evtq, (w) => {
      const e = decodeEvent(w);
      this.events.push(e);
      if (this.events.length > 1024) this.events.shift();
      this.#log(`event 0x${e.id.toString(16)} (${EVT_NAMES[e.id] ?? 'unknown'}) received: sid ${e.sid}`);
    });
    if (overflow) {
      this.evtqOverflows++;
      this.#log('EVTQ overflow detected -- events lost');
    }
  }

  /** `arm_smmu_priq_thread` + `arm_smmu_handle_ppr`: arm-smmu-v3 denies PRI requests. */
  priqThread(): void {
    if (!this.priq) return;
    const deny: PriRequest[] = [];
    const overflow = this.#drain(this.priq, (w) => {
      const p = decodePri(w);
      this.pageRequests.push(p);
      this.#log(`unexpected PRI request received: sid ${p.sid} grpid ${p.grpid}`);
      if (p.last) deny.push(p);
    });
    if (overflow) {
      this.priqOverflows++;
      this.#log('PRIQ overflow detected -- requests lost');
    }
    for (const p of deny) {
      void this.cmdq.issue(
        [
          {
            op: CMDQ_OP_PRI_RESP,
            sid: p.sid,
            ssv: p.ssidValid ? 1 : 0,
            ssid: p.ssid,
            grpid: p.grpid,
            resp: CMDQ_PRI_1_RESP_DENY,
          },
        ],
        false,
      );
    }
  }
}
