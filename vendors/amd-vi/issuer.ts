import { fail } from '../../actors/iommufd/errno.ts';
import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import { buildCompletionWait, CMD_SIZE, type CmdWords } from './commands.ts';
import { CMD_BUF_SLACK, MMIO_CMD_HEAD, MMIO_CMD_TAIL } from './regs.ts';

export interface Mmio {
  readReg(off: number): bigint;
  writeReg(off: number, value: bigint): void;
}

/** Linux LOOP_TIMEOUT × udelay(1): how long software waits for space or for a completion. */
export const LOOP_TIMEOUT_NS = 2_000_000_000;
const POLL_FIRST_NS = 100;
const POLL_MAX_NS = 1_000_000;

/**
 * The driver's side of the command buffer (amd_iommu's __iommu_queue_command_sync and
 * iommu_completion_wait): copy the command at the shadow tail, write the tail register; keep
 * 0x20 bytes free, re-reading the head while the ring is full; a completion is a
 * COMPLETION_WAIT storing a value that rises by one each time, polled in memory.
 */
export class CmdIssuer {
  #head = 0;
  #tail = 0;
  #sem = 0n;
  /** Completion waits that timed out (Linux: "Completion-Wait loop timed out", -EIO). */
  timeouts = 0;

  constructor(
    private readonly mmio: Mmio,
    private readonly phys: PhysMemory,
    private readonly scheduler: Scheduler,
    readonly ringPa: bigint,
    readonly ringBytes: number,
    readonly semPa: bigint,
  ) {}

  /** After software reset of the buffer (head = tail = 0). */
  reset(): void {
    this.#head = 0;
    this.#tail = 0;
  }

  get tail(): number {
    return this.#tail;
  }

  async queue(cmd: CmdWords): Promise<void> {
    const next = (this.#tail + CMD_SIZE) % this.ringBytes;
    let waited = 0;
    let delay = POLL_FIRST_NS;
    for (;;) {
      const left = (this.#head - next + this.ringBytes) % this.ringBytes;
      if (left > CMD_BUF_SLACK) break;
      this.#head = Number(this.mmio.readReg(MMIO_CMD_HEAD));
      if ((this.#head - next + this.ringBytes) % this.ringBytes > CMD_BUF_SLACK) break;
      if (waited >= LOOP_TIMEOUT_NS) fail('EIO', 'Command buffer timeout');
      await this.scheduler.sleep(delay);
      waited += delay;
      delay = Math.min(delay * 2, POLL_MAX_NS);
    }
    const bytes = new Uint8Array(CMD_SIZE);
    const v = new DataView(bytes.buffer);
    for (let i = 0; i < 4; i++) v.setUint32(i * 4, cmd[i]!, true);
    this.phys.write(this.ringPa + BigInt(this.#tail), bytes);
    this.#tail = next;
    this.mmio.writeReg(MMIO_CMD_TAIL, BigInt(next));
  }

  /** Queues COMPLETION_WAIT (S=1) and polls the semaphore; false on timeout. */
  async completionWait(): Promise<boolean> {
    const data = ++this.#sem;
    await this.queue(buildCompletionWait(this.semPa, data));
    let waited = 0;
    let delay = POLL_FIRST_NS;
    while (this.phys.readU64(this.semPa) < data) {
      if (waited >= LOOP_TIMEOUT_NS) {
        this.timeouts++;
        return false;
      }
      await this.scheduler.sleep(delay);
      waited += delay;
      delay = Math.min(delay * 2, POLL_MAX_NS);
    }
    return true;
  }
}
