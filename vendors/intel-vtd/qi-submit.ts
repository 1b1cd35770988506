import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import { QI_IWD_PRQ_DRAIN } from './descriptors.ts';
import { descWait, type RawDesc } from './qi-encode.ts';
import type { VtdRegisters } from './register-file.ts';
import {
  DMA_FSTS_ICE,
  DMA_FSTS_IQE,
  DMA_FSTS_ITE,
  DMA_GCMD_QIE,
  DMA_IQA_DW,
  DMAR_FSTS_REG,
  DMAR_IQA_REG,
  DMAR_IQER_REG,
  DMAR_IQH_REG,
  DMAR_IQT_REG,
} from './regs.ts';

/** Linux `QI_LENGTH`: 256 descriptors, 256 bits each (two pages, QS=1). */
export const QI_LENGTH = 256;
const SHIFT = 5;
const QI_FREE = 0;
const QI_IN_USE = 1;
const QI_DONE = 2;
const QI_ABORT = 3;
/** Resubmissions after ITE before giving up (Linux retries while the device is present). */
const MAX_ITE_RETRIES = 3;

export type QiResult = 0 | 'EINVAL' | 'ETIMEDOUT';

export interface QiSubmitOptions {
  /** Poll period while waiting for the status write. */
  readonly pollNs: number;
  /** Fault injection: return without waiting for the wait descriptor (it completes later). */
  readonly skipSync: () => boolean;
  readonly gcmd: () => number;
  readonly setGcmd: (v: number) => void;
}

/**
 * The driver half of queued invalidation (`qi_submit_sync`, dmar.c): copies descriptors plus
 * one inv_wait (SW=1, status QI_DONE into `desc_status[wait_index]`) into the ring, writes IQT,
 * and polls the status word, checking FSTS for IQE/ITE (`qi_check_fault`) while it waits.
 */
export class QiSubmitter {
  readonly descPa: bigint;
  readonly statusPa: bigint;
  #freeHead = 0;
  #freeTail = 0;
  #freeCnt = QI_LENGTH;
  /** Every submission made, descriptors as written (the wait included): for tests and traces. */
  readonly log: RawDesc[][] = [];

  constructor(
    private readonly phys: PhysMemory,
    private readonly regs: VtdRegisters,
    private readonly scheduler: Scheduler,
    private readonly opts: QiSubmitOptions,
  ) {
    this.descPa = phys.allocContiguous(2, 2) << 12n;
    this.statusPa = phys.allocPage() << 12n;
  }

  /** `dmar_enable_qi`: IQA (DW=1, QS=1), IQT=0, then GCMD.QIE. */
  enable(): void {
    this.regs.write32(DMAR_IQT_REG, 0);
    this.regs.write64(DMAR_IQA_REG, this.descPa | DMA_IQA_DW | 1n);
    this.opts.setGcmd(this.opts.gcmd() | DMA_GCMD_QIE);
  }

  async submit(descs: readonly RawDesc[], drain = false): Promise<QiResult> {
    for (let attempt = 0; ; attempt++) {
      const rc = await this.#submitOnce(descs, drain);
      if (rc !== 'EAGAIN') return rc;
      if (attempt >= MAX_ITE_RETRIES) return 'ETIMEDOUT';
    }
  }

  async #submitOnce(descs: readonly RawDesc[], drain: boolean): Promise<QiResult | 'EAGAIN'> {
    const count = descs.length;
    while (this.#freeCnt < count + 2) await this.scheduler.sleep(this.opts.pollNs);
    const first = this.#freeHead;
    for (let i = 0; i < count; i++) {
      const index = (first + i) % QI_LENGTH;
      this.#writeDesc(index, descs[i]!);
      this.#setStatus(index, QI_IN_USE);
    }
    const waitIndex = (first + count) % QI_LENGTH;
    this.#setStatus(waitIndex, QI_IN_USE);
    const wait = descWait(QI_DONE, this.statusPa + BigInt(waitIndex * 4), drain ? QI_IWD_PRQ_DRAIN : 0n);
    this.#writeDesc(waitIndex, wait);
    this.log.push([...descs, wait]);
    this.#freeHead = (first + count + 1) % QI_LENGTH;
    this.#freeCnt -= count + 1;
    this.regs.write32(DMAR_IQT_REG, this.#freeHead << SHIFT);
    const finish = this.#waitFor(first, count, waitIndex);
    if (this.opts.skipSync()) {
      void finish;
      return 0;
    }
    return finish;
  }

  async #waitFor(first: number, count: number, waitIndex: number): Promise<QiResult | 'EAGAIN'> {
    let rc: QiResult | 'EAGAIN' = 0;
    while (this.#status(waitIndex) !== QI_DONE) {
      rc = this.#checkFault(first, count, waitIndex);
      if (rc) break;
      await this.scheduler.sleep(this.opts.pollNs);
    }
    for (let i = 0; i <= count; i++) this.#setStatus((first + i) % QI_LENGTH, QI_FREE);
    this.#reclaim();
    return rc;
  }

  /** `qi_check_fault`. */
  #checkFault(first: number, count: number, waitIndex: number): QiResult | 'EAGAIN' {
    if (this.#status(waitIndex) === QI_ABORT) return 'EAGAIN';
    const fault = this.regs.read32(DMAR_FSTS_REG);
    if (fault & DMA_FSTS_IQE) {
      // IQH points at the bad descriptor; if it is ours, overwrite it with our wait and go on.
      const head = this.regs.read32(DMAR_IQH_REG) >> SHIFT;
      const offset = (head - first + QI_LENGTH) % QI_LENGTH;
      if (offset < count) {
        this.#copyDesc(waitIndex, head);
        this.regs.write32(DMAR_FSTS_REG, DMA_FSTS_IQE);
        return 'EINVAL';
      }
    }
    if (fault & DMA_FSTS_ITE) {
      // Waits the hardware already fetched (before IQH) were aborted: mark ours so we resubmit.
      const head = this.regs.read32(DMAR_IQH_REG) >> SHIFT;
      const tail = this.regs.read32(DMAR_IQT_REG) >> SHIFT;
      let i = (head - 1 + QI_LENGTH) % QI_LENGTH;
      const stop = (tail - 1 + QI_LENGTH) % QI_LENGTH;
      do {
        if (this.#status(i) === QI_IN_USE) this.#setStatus(i, QI_ABORT);
        i = (i - 1 + QI_LENGTH) % QI_LENGTH;
      } while (i !== stop);
      void this.regs.read64(DMAR_IQER_REG); // ITESID names the device; it is still present here
      this.regs.write32(DMAR_FSTS_REG, DMA_FSTS_ITE);
      if (this.#status(waitIndex) === QI_ABORT) return 'EAGAIN';
    }
    if (fault & DMA_FSTS_ICE) this.regs.write32(DMAR_FSTS_REG, DMA_FSTS_ICE);
    return 0;
  }

  #reclaim(): void {
    while (this.#status(this.#freeTail) === QI_FREE && this.#freeTail !== this.#freeHead) {
      this.#freeTail = (this.#freeTail + 1) % QI_LENGTH;
      this.#freeCnt++;
    }
  }

  #writeDesc(index: number, d: RawDesc): void {
    const at = this.descPa + BigInt(index << SHIFT);
    for (let i = 0; i < 4; i++) this.phys.writeU64(at + BigInt(i * 8), d[i]!);
  }

  #copyDesc(from: number, to: number): void {
    const src = this.descPa + BigInt(from << SHIFT);
    const dst = this.descPa + BigInt(to << SHIFT);
    for (let i = 0; i < 4; i++)
      this.phys.writeU64(dst + BigInt(i * 8), this.phys.readU64(src + BigInt(i * 8)));
  }

  #status(index: number): number {
    return this.phys.readU32(this.statusPa + BigInt(index * 4));
  }

  #setStatus(index: number, v: number): void {
    this.phys.writeU32(this.statusPa + BigInt(index * 4), v);
  }
}
