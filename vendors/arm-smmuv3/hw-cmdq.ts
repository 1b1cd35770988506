import type { AnyActorLogic, AnyActorRef } from 'xstate';
import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { PhysAccessError } from '../../actors/mem/phys-memory.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import type { Tracer } from '../../actors/runtime/trace.ts';
import { cmdqMachine } from '../../machines/cmdq.machine.ts';
import {
  CMDQ_ENT_BYTES,
  CMDQ_OP_CMD_SYNC,
  type Cmd,
  type CmdCheckContext,
  cmdName,
  decodeCmd,
  describeCmd,
} from './cmd.ts';
import { qEmpty, qIdx, qInc, qPtr } from './queue.ts';
import {
  CERROR_NAMES,
  CMDQ_CONS_ERR_MASK,
  CMDQ_ERR_CERROR_ABT_IDX,
  CMDQ_ERR_CERROR_ATC_INV_IDX,
  CMDQ_ERR_CERROR_ILL_IDX,
  Q_BASE_ADDR_MASK,
  Q_BASE_LOG2SIZE_MASK,
} from './regs.ts';

/** What the command consumer acts on. */
export interface CmdqBackend {
  readonly name: string;
  readonly phys: PhysMemory;
  readonly scheduler: Scheduler;
  readonly tracer: Tracer;
  readonly checkCtx: CmdCheckContext;
  readonly cmdNs: number;
  readonly maxLog2: number;
  /** Performs a non-sync command; an ATC_INV returns its completion (false: timed out). */
  execute(cmd: Cmd): Promise<boolean> | undefined;
  /** CMD_SYNC completion signal: MSI write (CS=IRQ) or SEV. */
  completeSync(cmd: Cmd, entryPa: bigint): void;
}

/**
 * The SMMU's command-queue consumer. Software writes entries into the ring and moves PROD; the
 * consumer reads them in order, each taking virtual time, and moves CONS. ATC_INVs complete
 * asynchronously over the fabric; a CMD_SYNC waits for all of them. An illegal entry (or a
 * fetch abort, or an ATC timeout seen by a sync) stops CONS at that entry with CONS.ERR set
 * until software acknowledges through GERRORN. The machine gets one summary per batch.
 */
export class CmdqEngine {
  base = 0n;
  log2 = 0;
  prod = 0;
  cons = 0;
  enabled = false;
  readonly actor: AnyActorRef;
  consumed = 0;
  syncs = 0;
  lastError: string | undefined;
  #running = false;
  #halted = false;
  #pending: Array<Promise<boolean>> = [];
  #waiters: Array<() => void> = [];

  constructor(
    private readonly be: CmdqBackend,
    spawn: (logic: AnyActorLogic) => AnyActorRef,
    signalError: () => void,
  ) {
    const logic = cmdqMachine.provide({ actions: { signalError: () => signalError() } });
    this.actor = spawn(logic);
  }

  get halted(): boolean {
    return this.#halted;
  }

  get baseReg(): bigint {
    return this.base | BigInt(this.log2);
  }

  writeBase(v: bigint): void {
    this.base = v & Q_BASE_ADDR_MASK;
    this.log2 = Math.min(Number(v & Q_BASE_LOG2SIZE_MASK), this.be.maxLog2);
  }

  setEnabled(on: boolean): void {
    if (on === this.enabled) return;
    this.enabled = on;
    this.actor.send({ type: on ? 'ENABLE' : 'DISABLE' });
    if (on) this.#kick(false);
    else {
      this.#halted = false;
      this.cons = (this.cons & ~CMDQ_CONS_ERR_MASK) >>> 0;
    }
    this.#notify();
  }

  /** The doorbell: software published entries up to `v`. */
  writeProd(v: number): void {
    this.prod = qPtr(v, this.log2);
    this.#kick(false);
  }

  /** GERRORN acknowledged CMDQ_ERR: consumption restarts at CONS (the entry may have been fixed). */
  ack(): void {
    if (!this.#halted) return;
    this.#halted = false;
    this.cons = (this.cons & ~CMDQ_CONS_ERR_MASK) >>> 0;
    this.actor.send({ type: 'ACK_ERROR' });
    this.#notify();
    this.#kick(true);
  }

  /** Resolves at the next change software could observe (CONS moved, MSI written, error). */
  progress(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #kick(fromAck: boolean): void {
    if (!this.enabled || this.#halted || this.#running) return;
    if (!fromAck) {
      if (qEmpty(this.prod, this.cons, this.log2)) return;
      this.actor.send({ type: 'DOORBELL' });
    }
    void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    let consumed = 0;
    let barriers = 0;
    try {
      while (this.enabled && !this.#halted && !qEmpty(this.prod, this.cons, this.log2)) {
        const index = qIdx(this.cons, this.log2);
        const at = this.base + BigInt(index * CMDQ_ENT_BYTES);
        await this.be.scheduler.sleep(this.be.cmdNs);
        if (!this.enabled) break;
        let dw0: bigint;
        let dw1: bigint;
        try {
          dw0 = this.be.phys.readU64(at);
          dw1 = this.be.phys.readU64(at + 8n);
        } catch (err) {
          if (!(err instanceof PhysAccessError)) throw err;
          this.#halt(CMDQ_ERR_CERROR_ABT_IDX, index, 'command fetch abort');
          break;
        }
        const d = decodeCmd(dw0, dw1, this.be.checkCtx);
        if (!d.ok) {
          this.#halt(CMDQ_ERR_CERROR_ILL_IDX, index, d.why);
          break;
        }
        this.#trace(d.cmd);
        if (d.cmd.op === CMDQ_OP_CMD_SYNC) {
          if (this.#pending.length > 0) {
            this.actor.send({ type: 'WAIT' });
            const results = await Promise.all(this.#pending);
            this.#pending = [];
            this.actor.send({ type: 'WAIT_DONE' });
            if (!this.enabled) break;
            if (results.includes(false)) {
              this.#halt(CMDQ_ERR_CERROR_ATC_INV_IDX, index, 'ATC invalidation completion timeout');
              break;
            }
          }
          this.be.completeSync(d.cmd, at);
          barriers++;
          this.syncs++;
        } else {
          const p = this.be.execute(d.cmd);
          if (p) this.#pending.push(p);
        }
        this.cons = qInc(this.cons, this.log2);
        consumed++;
        this.consumed++;
        this.#notify();
      }
    } finally {
      this.#running = false;
    }
    if (this.enabled && !this.#halted) this.actor.send({ type: 'DRAINED', consumed, barriers });
  }

  #halt(code: number, index: number, why: string): void {
    this.#halted = true;
    this.lastError = `${CERROR_NAMES[code]}: ${why}`;
    this.cons = ((this.cons & ~CMDQ_CONS_ERR_MASK) | (code << 24)) >>> 0;
    // The machine's signalError raises GERROR.CMDQ_ERR (and its interrupt).
    this.actor.send({ type: 'ERROR', code: CERROR_NAMES[code]!, index });
    if (this.be.tracer.on) {
      this.be.tracer.emit({
        type: 'cmd',
        t: this.be.scheduler.now,
        queue: `${this.be.name}/cmdq`,
        opcode: CERROR_NAMES[code]!,
        detail: `index ${index}: ${why}`,
      });
    }
    this.#notify();
  }

  #trace(cmd: Cmd): void {
    if (!this.be.tracer.on) return;
    this.be.tracer.emit({
      type: 'cmd',
      t: this.be.scheduler.now,
      queue: `${this.be.name}/cmdq`,
      opcode: cmdName(cmd.op),
      detail: describeCmd(cmd),
    });
  }
}
