import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import type { Tracer } from '../../actors/runtime/trace.ts';
import type { CmdqEvent } from '../../machines/cmdq.machine.ts';
import { type CmdEffects, executeCommand } from './cmd-exec.ts';
import { CMD_NAMES, CMD_SIZE, type CmdWords, opcodeOf } from './commands.ts';
import { EVENT_COMMAND_HW_ERROR, EVENT_ILLEGAL_COMMAND_ERROR, EVENT_IOTLB_INV_TIMEOUT } from './events.ts';
import { RING_BASE_MASK, RING_LEN_MIN, RING_LEN_SHIFT } from './regs.ts';

export interface CmdBufferOptions {
  readonly name: string;
  /** Virtual time one command takes. */
  readonly cmdNs: number;
  readonly tracer: Tracer;
}

/**
 * The command buffer as the IOMMU consumes it: a ring in memory, the head (hardware) and tail
 * (software) byte offsets, one 16-byte command per `cmdNs` of virtual time, in order. A
 * COMPLETION_WAIT holds the head until every earlier device IOTLB invalidation completed (or
 * timed out). An illegal command logs ILLEGAL_COMMAND_ERROR and halts the buffer at that entry
 * (CmdBufRun clear) until software disables and re-enables it. The queue's machine gets one
 * summary per batch.
 */
export class CmdBuffer {
  base = 0n;
  bytes = 0;
  head = 0;
  tail = 0;
  enabled = false;
  halted = false;
  /** Commands executed and barriers completed since reset (statistics). */
  consumed = 0;
  barriers = 0;
  /** Device IOTLB invalidations that got no completion in time. */
  timeouts = 0;
  readonly #pendingAtc = new Set<number>();
  #nextAtc = 0;
  #scheduled = false;
  #waiting = false;
  #inBatch = false;
  #batchConsumed = 0;
  #batchBarriers = 0;

  constructor(
    private readonly phys: PhysMemory,
    private readonly scheduler: Scheduler,
    private readonly effects: CmdEffects,
    private readonly machine: { send(e: CmdqEvent): void },
    private readonly opts: CmdBufferOptions,
  ) {}

  /** CmdBufRun: enabled and not stopped by an error. */
  get running(): boolean {
    return this.enabled && !this.halted;
  }

  get waiting(): boolean {
    return this.#waiting;
  }

  get pendingAtc(): number {
    return this.#pendingAtc.size;
  }

  setBaseReg(value: bigint): void {
    this.base = value & RING_BASE_MASK;
    const len = Math.max(Number((value >> RING_LEN_SHIFT) & 0xfn), RING_LEN_MIN);
    this.bytes = (1 << len) * CMD_SIZE;
  }

  baseReg(): bigint {
    return this.base | (BigInt(Math.log2(this.bytes / CMD_SIZE)) << RING_LEN_SHIFT);
  }

  #offset(value: bigint): number {
    return this.bytes === 0 ? 0 : Number(value & 0x7ffffn) & (this.bytes - 1) & ~(CMD_SIZE - 1);
  }

  /** Software may move the head only while the buffer is disabled. */
  writeHead(value: bigint): void {
    if (!this.enabled) this.head = this.#offset(value);
  }

  /** The doorbell. */
  writeTail(value: bigint): void {
    this.tail = this.#offset(value);
    this.#kick();
  }

  setEnabled(on: boolean): void {
    if (on === this.enabled) return;
    this.enabled = on;
    if (on) {
      this.machine.send({ type: 'ENABLE' });
      this.#kick();
    } else {
      // Disabling is how software acknowledges a halt: the error is cleared, the head stays.
      this.halted = false;
      this.#waiting = false;
      this.#inBatch = false;
      this.machine.send({ type: 'DISABLE' });
    }
  }

  #kick(): void {
    if (!this.enabled || this.halted || this.#waiting || this.#scheduled) return;
    if (this.head === this.tail) {
      if (this.#inBatch) this.#drained();
      return;
    }
    if (!this.#inBatch) {
      this.#inBatch = true;
      this.#batchConsumed = 0;
      this.#batchBarriers = 0;
      this.machine.send({ type: 'DOORBELL' });
    }
    this.#scheduled = true;
    this.scheduler.setTimer(this.opts.cmdNs, () => {
      this.#scheduled = false;
      this.#step();
    });
  }

  #drained(): void {
    this.#inBatch = false;
    this.machine.send({ type: 'DRAINED', consumed: this.#batchConsumed, barriers: this.#batchBarriers });
  }

  #step(): void {
    if (!this.enabled || this.halted || this.#waiting || this.head === this.tail) {
      this.#kick();
      return;
    }
    const pa = this.base + BigInt(this.head);
    let w: CmdWords;
    try {
      const raw = this.phys.read(pa, CMD_SIZE);
      const v = new DataView(raw.buffer);
      w = [v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true), v.getUint32(12, true)];
    } catch {
      this.#halt(EVENT_COMMAND_HW_ERROR, pa, 'COMMAND_HW_ERROR');
      return;
    }
    const result = executeCommand(w, pa, this.effects, {
      atcPending: this.#pendingAtc.size,
      startAtc: (devid, at) => this.#startAtc(devid, at),
    });
    if (result !== 'wait') this.#trace(w, result);
    if (result === 'illegal' || result === 'hw-error') {
      const illegal = result === 'illegal';
      this.#halt(
        illegal ? EVENT_ILLEGAL_COMMAND_ERROR : EVENT_COMMAND_HW_ERROR,
        pa,
        illegal ? 'ILLEGAL_COMMAND_ERROR' : 'COMMAND_HW_ERROR',
      );
      return;
    }
    if (result === 'wait') {
      this.#waiting = true;
      this.machine.send({ type: 'WAIT' });
      return;
    }
    if (result === 'barrier') {
      this.barriers++;
      this.#batchBarriers++;
    }
    this.consumed++;
    this.#batchConsumed++;
    this.head = (this.head + CMD_SIZE) % this.bytes;
    this.#kick();
  }

  #halt(type: number, pa: bigint, code: string): void {
    this.halted = true;
    this.#inBatch = false;
    this.effects.logEvent({ type, devid: 0, tag: 0, flags: 0, address: pa });
    this.machine.send({ type: 'ERROR', code, index: this.head / CMD_SIZE });
  }

  /**
   * Registers one outstanding device IOTLB invalidation (the command at `pa`, for `devid`);
   * returns its completion callback. No completion within CONTROL.InvTimeOut logs
   * IOTLB_INV_TIMEOUT and counts the invalidation as finished [spec]: the buffer goes on.
   */
  #startAtc(devid: number, pa: bigint): () => void {
    const id = this.#nextAtc++;
    this.#pendingAtc.add(id);
    let timer: { cancel(): void } | undefined;
    const finish = () => {
      if (!this.#pendingAtc.delete(id)) return;
      timer?.cancel();
      if (this.#waiting && this.#pendingAtc.size === 0) {
        this.#waiting = false;
        this.machine.send({ type: 'WAIT_DONE' });
        this.#kick();
      }
    };
    const timeoutNs = this.effects.invTimeoutNs();
    if (timeoutNs > 0) {
      timer = this.scheduler.setTimer(timeoutNs, () => {
        if (!this.#pendingAtc.has(id)) return;
        this.timeouts++;
        this.effects.logEvent({ type: EVENT_IOTLB_INV_TIMEOUT, devid, tag: 0, flags: 0, address: pa });
        finish();
      });
    }
    return finish;
  }

  #trace(w: CmdWords, result: string): void {
    const tracer = this.opts.tracer;
    if (!tracer.on) return;
    const op = opcodeOf(w);
    tracer.emit({
      type: 'cmd',
      t: this.scheduler.now,
      queue: this.opts.name,
      opcode: result === 'illegal' ? 'ILLEGAL' : (CMD_NAMES[op] ?? `0x${op.toString(16)}`),
      detail: w.map((x) => x.toString(16).padStart(8, '0')).join(' '),
    });
  }
}
