import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { PhysAccessError } from '../../actors/mem/phys-memory.ts';
import type { EventFd } from '../../actors/runtime/eventfd.ts';
import { qEmpty, qFull, qIdx, qInc } from './queue.ts';
import { Q_BASE_ADDR_MASK, Q_BASE_LOG2SIZE_MASK, Q_OVERFLOW_FLAG } from './regs.ts';

export type PushOutcome = 'written' | 'overflow' | 'disabled' | 'abort';

/**
 * An output queue the SMMU produces into (EVTQ, PRIQ): the ring is in memory, PROD is the
 * hardware's, CONS is software's. When full, the record is lost and PROD.OVFLG toggles, once
 * per overflow episode: only while software has acknowledged the last one (OVACKFLG = OVFLG).
 */
export class OutQueue {
  base = 0n;
  log2 = 0;
  prod = 0;
  cons = 0;
  enabled = false;
  irqEnabled = false;
  written = 0;
  lost = 0;

  constructor(
    private readonly phys: PhysMemory,
    readonly name: string,
    readonly entryBytes: number,
    readonly maxLog2: number,
    readonly irq: EventFd,
    /** GERROR bit toggled when the SMMU cannot write the ring (EVTQ_ABT_ERR / PRIQ_ABT_ERR). */
    private readonly abort: () => void,
  ) {}

  writeBase(v: bigint): void {
    this.base = v & Q_BASE_ADDR_MASK;
    this.log2 = Math.min(Number(v & Q_BASE_LOG2SIZE_MASK), this.maxLog2);
  }

  get baseReg(): bigint {
    return this.base | BigInt(this.log2);
  }

  get empty(): boolean {
    return qEmpty(this.prod, this.cons, this.log2);
  }

  push(words: readonly bigint[]): PushOutcome {
    if (!this.enabled) return 'disabled';
    if (qFull(this.prod, this.cons, this.log2)) {
      this.lost++;
      const acked = (this.prod & Q_OVERFLOW_FLAG) === (this.cons & Q_OVERFLOW_FLAG);
      if (acked) this.prod = (this.prod ^ Q_OVERFLOW_FLAG) >>> 0;
      this.#interrupt();
      return 'overflow';
    }
    const at = this.base + BigInt(qIdx(this.prod, this.log2) * this.entryBytes);
    try {
      for (let i = 0; i < words.length; i++) this.phys.writeU64(at + BigInt(i * 8), words[i]!);
    } catch (err) {
      if (!(err instanceof PhysAccessError)) throw err;
      this.abort();
      return 'abort';
    }
    this.prod = qInc(this.prod, this.log2);
    this.written++;
    this.#interrupt();
    return 'written';
  }

  #interrupt(): void {
    if (this.irqEnabled) this.irq.write(1n);
  }
}
