import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { FaultSwitches } from '../../actors/runtime/faults.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import {
  CMDQ_ENT_BYTES,
  CMDQ_OP_CMD_SYNC,
  CMDQ_SYNC_0_CS_IRQ,
  CMDQ_SYNC_0_CS_SEV,
  type Cmd,
  cmdName,
  encodeCmd,
} from './cmd.ts';
import type { Smmuv3Hardware } from './hardware.ts';
import { qConsumed, qIdx, qInc, qSpace } from './queue.ts';
import { ARM_SMMU_CMDQ_CONS, ARM_SMMU_CMDQ_PROD } from './regs.ts';

/** Linux's CMDQ_BATCH_ENTRIES: a batch that fills up is flushed without a sync. */
export const CMDQ_BATCH_ENTRIES = 64;
/** ARM_SMMU_POLL_TIMEOUT_US: how long the driver polls for space or a sync. */
export const ARM_SMMU_POLL_TIMEOUT_NS = 1_000_000_000;

/** One submission as the driver wrote it: the opcodes, for tests of the command stream. */
export interface Submission {
  readonly t: number;
  readonly ops: readonly string[];
}

/** Driver-side fault injection: forgets a step the way real driver bugs do. Runtime-settable. */
export interface Smmuv3DriverFaults {
  /** Unmap and domain teardown issue no TLBI. */
  skipIotlbInvalidation: boolean;
  /** Submissions go out without CMD_SYNC and the driver does not wait for them. */
  skipSync: boolean;
  /** No ATC_INV is issued. */
  skipAtcInvalidation: boolean;
  /** TLBIs carry the wrong ASID/VMID. */
  wrongInvalidationTag: boolean;
  /** STE/CD updates are written without CFGI_STE/CFGI_CD. */
  skipCfgi: boolean;
}

export function noDriverFaults(): Smmuv3DriverFaults {
  return {
    skipIotlbInvalidation: false,
    skipSync: false,
    skipAtcInvalidation: false,
    wrongInvalidationTag: false,
    skipCfgi: false,
  };
}

/** The switches in effect: the driver's own, or the farm-wide ones (`farm.faults`). */
export function activeFaults(
  own: Smmuv3DriverFaults,
  farm: Partial<FaultSwitches> | undefined,
): Smmuv3DriverFaults {
  return {
    get skipIotlbInvalidation() {
      return own.skipIotlbInvalidation || farm?.skipIotlbInvalidation === true;
    },
    get skipSync() {
      return own.skipSync || farm?.skipSync === true;
    },
    get skipAtcInvalidation() {
      return own.skipAtcInvalidation || farm?.skipAtcInvalidation === true;
    },
    get wrongInvalidationTag() {
      return own.wrongInvalidationTag || farm?.wrongInvalidationTag === true;
    },
    get skipCfgi() {
      return own.skipCfgi;
    },
  };
}

/**
 * The kernel's side of the command queue (`arm_smmu_cmdq_issue_cmdlist`): waits for space by
 * polling CONS, writes the entries and a CMD_SYNC into the ring, publishes PROD, then polls for
 * the sync's completion: with MSI polling the SMMU's MSI write zeroes the sync entry itself
 * (ARM_SMMU_OPT_MSIPOLL), otherwise CONS passing it (CS=SEV). Submitters are serialised while
 * they write; they wait for their syncs concurrently.
 */
export class DriverCmdq {
  readonly base: bigint;
  readonly log2: number;
  prod = 0;
  readonly history: Submission[] = [];
  timeouts = 0;
  #lock: Promise<void> = Promise.resolve();

  constructor(
    private readonly hw: Smmuv3Hardware,
    private readonly phys: PhysMemory,
    private readonly scheduler: Scheduler,
    log2: number,
    readonly msiPoll: boolean,
    readonly faults: Smmuv3DriverFaults,
  ) {
    this.log2 = log2;
    const pages = Math.max(1, ((1 << log2) * CMDQ_ENT_BYTES) / 4096);
    this.base = phys.allocContiguous(pages, pages) << 12n;
  }

  /** Issues `cmds`, followed by a CMD_SYNC when `sync`; resolves once the sync completed. */
  issue(cmds: readonly Cmd[], sync: boolean): Promise<boolean> {
    return this.#submit(
      cmds.map((c) => encodeCmd(c)),
      cmds.map((c) => cmdName(c.op)),
      sync,
    );
  }

  /** Writes raw 16-byte entries as given (tests: garbage in the ring), then optionally a sync. */
  issueRaw(entries: ReadonlyArray<readonly [bigint, bigint]>, sync: boolean): Promise<boolean> {
    return this.#submit(
      entries,
      entries.map((e) => `raw:0x${(e[0] & 0xffn).toString(16)}`),
      sync,
    );
  }

  async #submit(
    entries: ReadonlyArray<readonly [bigint, bigint]>,
    names: string[],
    sync: boolean,
  ): Promise<boolean> {
    const withSync = sync && !this.faults.skipSync;
    let syncPtr = -1;
    let syncPa = 0n;
    const release = await this.#acquire();
    try {
      const n = entries.length + (withSync ? 1 : 0);
      if (n === 0) return true;
      if (!(await this.#waitSpace(n))) return false;
      for (const e of entries) this.#put(e);
      if (withSync) {
        syncPtr = this.prod;
        syncPa = this.#slot(this.prod);
        const msi = this.msiPoll
          ? { cs: CMDQ_SYNC_0_CS_IRQ, msiaddr: syncPa, msidata: 0 }
          : { cs: CMDQ_SYNC_0_CS_SEV };
        this.#put(encodeCmd({ op: CMDQ_OP_CMD_SYNC, ...msi }));
        names.push('CMD_SYNC');
      }
      this.history.push({ t: this.scheduler.now, ops: names });
      if (this.history.length > 512) this.history.splice(0, this.history.length - 512);
      this.hw.write32(ARM_SMMU_CMDQ_PROD, this.prod);
    } finally {
      release();
    }
    if (!withSync) return true;
    return this.#pollSync(syncPtr, syncPa);
  }

  /** The CMD_SYNC Linux writes over an illegal command to skip it (`arm_smmu_cmdq_skip_err`). */
  syncEntryAt(cons: number): [bigint, bigint] {
    const pa = this.#slot(cons);
    return encodeCmd(
      this.msiPoll
        ? { op: CMDQ_OP_CMD_SYNC, cs: CMDQ_SYNC_0_CS_IRQ, msiaddr: pa, msidata: 0 }
        : { op: CMDQ_OP_CMD_SYNC, cs: CMDQ_SYNC_0_CS_SEV },
    );
  }

  slotAddress(ptr: number): bigint {
    return this.#slot(ptr);
  }

  #slot(ptr: number): bigint {
    return this.base + BigInt(qIdx(ptr, this.log2) * CMDQ_ENT_BYTES);
  }

  #put([dw0, dw1]: readonly [bigint, bigint]): void {
    const pa = this.#slot(this.prod);
    this.phys.writeU64(pa, dw0);
    this.phys.writeU64(pa + 8n, dw1);
    this.prod = qInc(this.prod, this.log2);
  }

  async #acquire(): Promise<() => void> {
    const prev = this.#lock;
    let release!: () => void;
    this.#lock = new Promise((r) => {
      release = r;
    });
    await prev;
    return release;
  }

  async #waitSpace(n: number): Promise<boolean> {
    return this.#poll(
      () => qSpace(this.prod, this.hw.read32(ARM_SMMU_CMDQ_CONS), this.log2) >= n,
      'CMDQ timeout',
    );
  }

  #pollSync(ptr: number, pa: bigint): Promise<boolean> {
    // CONS past the sync also means done: the slot may already hold a newer command.
    const consumed = () => qConsumed(this.hw.read32(ARM_SMMU_CMDQ_CONS), ptr, this.log2);
    const done = this.msiPoll ? () => this.phys.readU32(pa) === 0 || consumed() : consumed;
    return this.#poll(done, 'CMD_SYNC timeout');
  }

  /** Polls `done` each time the SMMU makes progress, for at most ARM_SMMU_POLL_TIMEOUT_US. */
  async #poll(done: () => boolean, what: string): Promise<boolean> {
    if (done()) return true;
    let expired = false;
    let wake: (() => void) | undefined;
    const timer = this.scheduler.setTimer(ARM_SMMU_POLL_TIMEOUT_NS, () => {
      expired = true;
      wake?.();
    });
    try {
      while (!done()) {
        if (expired) {
          this.timeouts++;
          this.lastTimeout = what;
          return false;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          void this.hw.cmdq.progress().then(resolve);
        });
      }
      return true;
    } finally {
      timer.cancel();
    }
  }

  lastTimeout: string | undefined;
}

/** `struct arm_smmu_cmdq_batch`: commands gathered and submitted with one sync at the end. */
export class CmdBatch {
  readonly #cmds: Cmd[] = [];

  constructor(private readonly q: DriverCmdq) {}

  async add(c: Cmd): Promise<void> {
    if (this.#cmds.length === CMDQ_BATCH_ENTRIES) {
      await this.q.issue(this.#cmds.splice(0), false);
    }
    this.#cmds.push(c);
  }

  get length(): number {
    return this.#cmds.length;
  }

  submit(): Promise<boolean> {
    return this.q.issue(this.#cmds.splice(0), true);
  }
}
