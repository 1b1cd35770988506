import {
  CMD_COMPL_WAIT,
  CMD_COMPL_WAIT_INT,
  CMD_COMPL_WAIT_STORE,
  CMD_COMPLETE_PPR,
  CMD_INV_ALL,
  CMD_INV_DEV_ENTRY,
  CMD_INV_IOMMU_PAGES,
  CMD_INV_IOTLB_PAGES,
  CMD_INV_IRT,
  CMD_INV_PAGES_GN,
  CMD_PREFETCH_PAGES,
  type CmdWords,
  cmdAddress,
  decodeInvRange,
  hasReservedBits,
  opcodeOf,
} from './commands.ts';
import type { AmdEvent } from './events.ts';
import { FEATURE_IA, FEATURE_PPR, FEATURE_PREFETCH } from './regs.ts';

/** What commands do to the rest of the IOMMU. */
export interface CmdEffects {
  readonly efr: bigint;
  invalidateDte(devid: number): void;
  invalidatePages(domid: number, pasid: number | undefined, start: bigint, size: bigint): void;
  invalidateAll(): void;
  invalidateIrt(devid: number): void;
  /**
   * Sends an ATS Invalidation Request to the device; `done` runs when its completion comes
   * back. False when no device with an IOTLB answers for that DeviceID (nothing to wait for).
   */
  sendAtcInvalidation(
    devid: number,
    pasid: number | undefined,
    start: bigint,
    size: bigint,
    done: () => void,
  ): boolean;
  completePpr(devid: number, pasid: number | undefined, status: number, tag: number): void;
  /** The COMPLETION_WAIT store; false when the address is not memory. */
  storeCompletion(pa: bigint, data: bigint): boolean;
  raiseComWait(): void;
  logEvent(e: AmdEvent): void;
  /** CONTROL.InvTimeOut in ns (0: no timeout). */
  invTimeoutNs(): number;
}

export interface ExecContext {
  /** Device IOTLB invalidations still outstanding. */
  readonly atcPending: number;
  startAtc(devid: number, pa: bigint): () => void;
}

export type ExecResult = 'done' | 'barrier' | 'wait' | 'illegal' | 'hw-error';

/** Opcodes that need an EFR feature; without it they are illegal. */
const NEEDS: Readonly<Record<number, bigint>> = {
  [CMD_INV_ALL]: FEATURE_IA,
  [CMD_PREFETCH_PAGES]: FEATURE_PREFETCH,
  [CMD_COMPLETE_PPR]: FEATURE_PPR,
};

/** Executes the command at `pa`; 'wait' leaves it at the head to be run again later. */
export function executeCommand(w: CmdWords, pa: bigint, fx: CmdEffects, ctx: ExecContext): ExecResult {
  const op = opcodeOf(w);
  if (hasReservedBits(w)) return 'illegal';
  const need = NEEDS[op];
  if (need !== undefined && !(fx.efr & need)) return 'illegal';
  const gn = (w[2] & CMD_INV_PAGES_GN) !== 0;
  switch (op) {
    case CMD_COMPL_WAIT: {
      if (ctx.atcPending > 0) return 'wait';
      if (w[0] & CMD_COMPL_WAIT_STORE) {
        const addr = (BigInt(w[1] & 0xfffff) << 32n) | BigInt((w[0] & ~7) >>> 0);
        if (!fx.storeCompletion(addr, (BigInt(w[3]) << 32n) | BigInt(w[2]))) return 'hw-error';
      }
      if (w[0] & CMD_COMPL_WAIT_INT) fx.raiseComWait();
      return 'barrier';
    }
    case CMD_INV_DEV_ENTRY:
      fx.invalidateDte(w[0] & 0xffff);
      return 'done';
    case CMD_INV_IOMMU_PAGES: {
      const { start, size } = decodeInvRange(cmdAddress(w));
      fx.invalidatePages(w[1] & 0xffff, gn ? w[0] & 0xfffff : undefined, start, size);
      return 'done';
    }
    case CMD_INV_IOTLB_PAGES: {
      const devid = w[0] & 0xffff;
      const pasid = gn ? (((w[0] >>> 16) & 0xff) << 8) | ((w[1] >>> 16) & 0xff) : undefined;
      const { start, size } = decodeInvRange(cmdAddress(w));
      const finish = ctx.startAtc(devid, pa);
      if (!fx.sendAtcInvalidation(devid, pasid, start, size, finish)) finish();
      return 'done';
    }
    case CMD_INV_IRT:
      fx.invalidateIrt(w[0] & 0xffff);
      return 'done';
    case CMD_PREFETCH_PAGES:
      // A hint: the model does not prefetch.
      return 'done';
    case CMD_COMPLETE_PPR:
      fx.completePpr(w[0] & 0xffff, gn ? w[1] & 0xfffff : undefined, (w[3] >>> 12) & 0xf, w[3] & 0x1ff);
      return 'done';
    case CMD_INV_ALL:
      fx.invalidateAll();
      return 'done';
    default:
      return 'illegal';
  }
}
