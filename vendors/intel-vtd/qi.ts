import type { AnyActorRef } from 'xstate';
import { PhysAccessError, type PhysMemory } from '../../actors/mem/phys-memory.ts';
import { EventFd } from '../../actors/runtime/eventfd.ts';
import type { Scheduler, TimerHandle } from '../../actors/runtime/scheduler.ts';
import { decodeDescriptor, type QiDesc } from './descriptors.ts';
import { describeDescriptor } from './qi-describe.ts';
import {
  DMA_CTL_IM,
  DMA_CTL_IP,
  DMA_FSTS_ICE,
  DMA_FSTS_IQE,
  DMA_FSTS_ITE,
  DMA_IQA_DW,
  DMA_IQA_QS_MASK,
  DMAR_IQER_ITESID_SHIFT,
  IQEI,
} from './regs.ts';

export type AtcDesc = Extract<QiDesc, { type: 'dev_tlb' | 'p_dev_tlb' }>;

/** What the queue needs from the rest of the IOMMU. */
export interface QiBackend {
  /** Context, PASID-cache and IOTLB invalidations, and page group responses: immediate. */
  execute(d: QiDesc): void;
  /**
   * Sends an ATC invalidation to the device named by the descriptor; `done` runs when the device
   * completes it. Returns false when no ATS device answers to that SID (nothing to wait for).
   */
  sendAtcInvalidation(d: AtcDesc, done: () => void): boolean;
  trace(opcode: string, detail: string): void;
}

export interface QiTiming {
  /** Virtual time to fetch and execute one descriptor. */
  readonly descNs: number;
  /** How long an ATC invalidation may stay outstanding before ITE. */
  readonly atcTimeoutNs: number;
}

interface Outstanding {
  readonly sid: number;
  readonly timer: TimerHandle;
}

/**
 * The Invalidation Queue: a ring at IQA of 128- or 256-bit descriptors. Software writes
 * descriptors and moves IQT; hardware fetches from IQH in order, one descriptor per `descNs`.
 * An inv_wait completes (status write, IWC interrupt) only once every earlier descriptor has
 * taken effect, device-TLB completions included. An illegal descriptor sets IQE and leaves IQH
 * on it; a device-TLB invalidation that times out sets ITE and aborts the waits already fetched.
 * Nothing is fetched while IQE or ITE is set.
 */
export class InvalidationQueue {
  #base = 0n;
  #dw = false;
  #qs = 0;
  #enabled = false;
  #head = 0;
  #tailRaw = 0n;
  #iqe = false;
  #ite = false;
  #ice = false;
  #iqer = 0n;
  #iwc = false;
  #iectl = DMA_CTL_IM;
  #busy = false;
  #parked: Extract<QiDesc, { type: 'inv_wait' }> | undefined;
  readonly #outstanding = new Map<number, Outstanding>();
  #nextToken = 0;
  #batchConsumed = 0;
  #batchBarriers = 0;
  /** The invalidation completion event (IECTL/IEDATA/IEADDR) as an eventfd. */
  readonly irq: EventFd;
  /** Descriptors executed and waits completed, since reset. */
  consumed = 0;
  waitsCompleted = 0;
  waitsAborted = 0;

  constructor(
    private readonly mem: PhysMemory,
    private readonly scheduler: Scheduler,
    private readonly actor: AnyActorRef,
    private readonly backend: QiBackend,
    readonly timing: QiTiming,
    name: string,
  ) {
    this.irq = new EventFd(`${name}/inv-completion`, (fn) => scheduler.setTimer(0, fn));
  }

  get entries(): number {
    return (4096 << this.#qs) / (this.#dw ? 32 : 16);
  }

  get shift(): bigint {
    return this.#dw ? 5n : 4n;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  get iqa(): bigint {
    return this.#base | (this.#dw ? DMA_IQA_DW : 0n) | BigInt(this.#qs);
  }

  get iqh(): bigint {
    return BigInt(this.#head) << this.shift;
  }

  get iqt(): bigint {
    return this.#tailRaw;
  }

  get iqer(): bigint {
    return this.#iqer;
  }

  get ics(): number {
    return this.#iwc ? 1 : 0;
  }

  get iectl(): number {
    return this.#iectl;
  }

  /** FSTS bits this unit owns. */
  fsts(): number {
    return (this.#iqe ? DMA_FSTS_IQE : 0) | (this.#ite ? DMA_FSTS_ITE : 0) | (this.#ice ? DMA_FSTS_ICE : 0);
  }

  /** Whether the head is parked on a wait for device completions. */
  get waiting(): boolean {
    return this.#parked !== undefined;
  }

  /** IQA is only writable while the queue is disabled. */
  writeIqa(v: bigint): void {
    if (this.#enabled) return;
    this.#base = v & ~0xfffn & 0xffff_ffff_ffff_ffffn;
    this.#dw = (v & DMA_IQA_DW) !== 0n;
    this.#qs = Number(v & DMA_IQA_QS_MASK);
  }

  /** The doorbell. Bits 18:4 hold the tail; the range and alignment are checked at fetch. */
  writeIqt(v: bigint): void {
    this.#tailRaw = v & 0x7fff0n;
    const bad = (this.#dw && (v & 0x10n) !== 0n) || this.#tailIndex() >= this.entries;
    if (!bad && this.#tailIndex() === this.#head) return;
    this.actor.send({ type: 'DOORBELL' });
    this.#kick(true);
  }

  writeIcs(v: number): void {
    if (v & 1) this.#iwc = false;
  }

  writeIectl(v: number): void {
    const was = (this.#iectl & DMA_CTL_IM) !== 0;
    this.#iectl = (this.#iectl & DMA_CTL_IP) | (v & DMA_CTL_IM);
    if (was && !(v & DMA_CTL_IM) && this.#iectl & DMA_CTL_IP) this.#interrupt();
  }

  /** GCMD.QIE. Enabling resets IQH to 0. */
  setEnabled(on: boolean): void {
    if (on === this.#enabled) return;
    this.#enabled = on;
    if (on) {
      this.#head = 0;
      this.actor.send({ type: 'ENABLE' });
      this.#kick();
    } else this.actor.send({ type: 'DISABLE' });
  }

  /** Software clears IQE/ITE/ICE in FSTS (write 1); fetching resumes from IQH. */
  clearErrors(bits: number): void {
    const wasHalted = this.#iqe || this.#ite;
    if (bits & DMA_FSTS_IQE) this.#iqe = false;
    if (bits & DMA_FSTS_ITE) this.#ite = false;
    if (bits & DMA_FSTS_ICE) this.#ice = false;
    if (wasHalted && !this.#iqe && !this.#ite) {
      this.actor.send({ type: 'ACK_ERROR' });
      this.#kick(true);
    }
  }

  #tailIndex(): number {
    return Number(this.#tailRaw >> this.shift);
  }

  #kick(force = false): void {
    if (this.#busy || !this.#enabled || this.#iqe || this.#ite || this.#parked) return;
    if (!force && this.#tailIndex() === this.#head) return;
    this.#busy = true;
    this.scheduler.setTimer(this.timing.descNs, () => this.#step());
  }

  #step(): void {
    this.#busy = false;
    if (!this.#enabled || this.#iqe || this.#ite || this.#parked) return;
    const tail = this.#tailIndex();
    const words = tail === this.#head ? undefined : this.#fetch(this.#head);
    let iqei = 0;
    if (this.#dw && this.#tailRaw & 0x10n) iqei = IQEI.TAIL_RSVD;
    else if (tail >= this.entries) iqei = IQEI.TAIL_RANGE;
    else if (tail === this.#head) {
      this.#drained();
      return;
    } else if (!words) iqei = IQEI.FETCH;
    const d = words && !iqei ? decodeDescriptor(words, this.#dw) : { iqei };
    if ('iqei' in d) {
      this.#error(d.iqei);
      return;
    }
    this.#head = (this.#head + 1) % this.entries;
    this.consumed++;
    this.#batchConsumed++;
    this.backend.trace(d.type, describeDescriptor(d));
    if (d.type === 'inv_wait') {
      if (this.#outstanding.size > 0) {
        this.#parked = d;
        this.actor.send({ type: 'WAIT' });
        return;
      }
      this.#completeWait(d);
    } else if (d.type === 'dev_tlb' || d.type === 'p_dev_tlb') {
      this.#sendAtc(d);
    } else {
      this.backend.execute(d);
    }
    this.#busy = true;
    this.scheduler.setTimer(this.timing.descNs, () => this.#step());
  }

  #fetch(index: number): bigint[] | undefined {
    const size = this.#dw ? 4 : 2;
    const at = this.#base + BigInt(index * size * 8);
    try {
      const out: bigint[] = [];
      for (let i = 0; i < size; i++) out.push(this.mem.readU64(at + BigInt(i * 8)));
      return out;
    } catch (err) {
      if (err instanceof PhysAccessError) return undefined;
      throw err;
    }
  }

  #sendAtc(d: AtcDesc): void {
    const token = this.#nextToken++;
    const sid = d.sid;
    const sent = this.backend.sendAtcInvalidation(d, () => this.#atcDone(token));
    if (!sent) return;
    const timer = this.scheduler.setTimer(this.timing.atcTimeoutNs, () => this.#atcTimeout(token));
    this.#outstanding.set(token, { sid, timer });
  }

  #atcDone(token: number): void {
    const o = this.#outstanding.get(token);
    if (!o) return; // completed after a timeout: the abort already happened
    o.timer.cancel();
    this.#outstanding.delete(token);
    if (this.#outstanding.size === 0 && this.#parked) {
      const wait = this.#parked;
      this.#parked = undefined;
      this.actor.send({ type: 'WAIT_DONE' });
      this.#completeWait(wait);
      this.#kick(true);
    }
  }

  /** ITE: the waits already fetched are aborted and fetching stops until software clears ITE. */
  #atcTimeout(token: number): void {
    const o = this.#outstanding.get(token);
    if (!o) return;
    for (const other of this.#outstanding.values()) other.timer.cancel();
    this.#outstanding.clear();
    this.#ite = true;
    this.#iqer =
      (this.#iqer & ~(0xffffn << DMAR_IQER_ITESID_SHIFT)) | (BigInt(o.sid) << DMAR_IQER_ITESID_SHIFT);
    if (this.#parked) {
      this.#parked = undefined;
      this.waitsAborted++;
    }
    this.backend.trace('ITE', `sid 0x${o.sid.toString(16)}`);
    // The queue may look idle (drained, no wait fetched yet); the error still halts it.
    if ((this.actor.getSnapshot() as { value: unknown }).value === 'idle')
      this.actor.send({ type: 'DOORBELL' });
    this.actor.send({ type: 'ERROR', code: 'ITE', index: this.#head });
  }

  #completeWait(d: Extract<QiDesc, { type: 'inv_wait' }>): void {
    this.waitsCompleted++;
    this.#batchBarriers++;
    this.backend.trace('inv_wait.done', `status 0x${d.statusData.toString(16)}`);
    if (d.sw) {
      try {
        this.mem.writeU32(d.statusAddr, d.statusData);
      } catch (err) {
        if (!(err instanceof PhysAccessError)) throw err;
        this.backend.trace('inv_wait', `status write to unbacked 0x${d.statusAddr.toString(16)} dropped`);
      }
    }
    if (d.iflag && !this.#iwc) {
      this.#iwc = true;
      if (this.#iectl & DMA_CTL_IM) this.#iectl |= DMA_CTL_IP;
      else this.#interrupt();
    }
  }

  #interrupt(): void {
    this.#iectl &= ~DMA_CTL_IP;
    this.irq.write(1n);
  }

  #error(iqei: number): void {
    this.#iqe = true;
    this.#iqer = (this.#iqer & ~0xfn) | BigInt(iqei);
    this.backend.trace('IQE', `iqei ${iqei} at index ${this.#head}`);
    this.actor.send({ type: 'ERROR', code: 'IQE', index: this.#head });
  }

  #drained(): void {
    this.actor.send({ type: 'DRAINED', consumed: this.#batchConsumed, barriers: this.#batchBarriers });
    this.#batchConsumed = 0;
    this.#batchBarriers = 0;
  }
}
