import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { RING_BASE_MASK, RING_LEN_MIN, RING_LEN_SHIFT } from './regs.ts';

export type AppendResult = 'ok' | 'stopped' | 'overflow';

/**
 * A hardware-written log in memory (the event log or the PPR log): the IOMMU writes at the tail,
 * software consumes from the head; both are byte offsets. The log is full when one more entry
 * would make tail equal head: the IOMMU then sets the overflow bit and stops logging (entries
 * are lost) until software disables the log, clears the bit and enables it again: clearing the
 * bit alone does not restart it (Linux's amd_iommu_restart_log relies on that).
 */
export class LogRing {
  base = 0n;
  /** Length in bytes. */
  bytes = 0;
  head = 0;
  tail = 0;
  enabled = false;
  /** The status register's overflow bit (write 1 to clear). */
  overflow = false;
  /** Stopped by an overflow; only a 0→1 enable with the bit clear restarts logging. */
  halted = false;
  /** Entries lost while stopped or full. */
  dropped = 0;

  constructor(
    private readonly phys: PhysMemory,
    readonly entrySize = 16,
  ) {}

  get running(): boolean {
    return this.enabled && !this.halted;
  }

  setEnabled(on: boolean): void {
    if (on && !this.enabled && !this.overflow) this.halted = false;
    this.enabled = on;
  }

  /** The base register: base 51:12, log2 of the entry count in 59:56 (values below 8 are reserved). */
  setBaseReg(value: bigint): void {
    this.base = value & RING_BASE_MASK;
    const len = Math.max(Number((value >> RING_LEN_SHIFT) & 0xfn), RING_LEN_MIN);
    this.bytes = (1 << len) * this.entrySize;
  }

  baseReg(): bigint {
    const len = Math.log2(this.bytes / this.entrySize);
    return this.base | (BigInt(len) << RING_LEN_SHIFT);
  }

  offset(value: bigint): number {
    return this.bytes === 0 ? 0 : Number(value) & (this.bytes - 1) & ~(this.entrySize - 1);
  }

  append(entry: Uint8Array): AppendResult {
    if (!this.running) {
      this.dropped++;
      return 'stopped';
    }
    const next = (this.tail + this.entrySize) % this.bytes;
    if (next === this.head) {
      this.overflow = true;
      this.halted = true;
      this.dropped++;
      return 'overflow';
    }
    try {
      this.phys.write(this.base + BigInt(this.tail), entry);
    } catch {
      // The log is not in memory: nothing is recorded (a real IOMMU would raise a HW error).
      this.dropped++;
      return 'stopped';
    }
    this.tail = next;
    return 'ok';
  }

  /** Entries between head and tail, for inspection. */
  pending(): number {
    return ((this.tail - this.head + this.bytes) % this.bytes) / this.entrySize;
  }
}
