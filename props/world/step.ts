import type { Errno } from '../../actors/iommufd/errno.ts';
import type { CtxSnapshot } from '../snapshot.ts';
import type { DmaRequestModel, DmaVerdictKind } from './dma-oracle.ts';

/** One uAPI call a step made, as invariants see it. */
export interface CallRecord {
  readonly label: string;
  /** Transcript variable holding its result. */
  readonly varName: string;
  readonly ok: boolean;
  readonly errno?: Errno;
  /** Anything but an IommufdError escaping the API. */
  readonly exception?: unknown;
  /** Snapshots of every open ctx around a failed call (for errno atomicity). */
  readonly before?: ReadonlyMap<number, CtxSnapshot>;
  readonly after?: ReadonlyMap<number, CtxSnapshot>;
  /** IOAS_UNMAP may fail after removing some areas: the kernel's documented partial success. */
  readonly partialAllowed?: boolean;
  /** The errno of the fail-nth point injected into this call, if one was. */
  readonly injected?: Errno;
}

/** One DMA that completed during a step, with the oracle's verdict. */
export interface DmaRecord {
  readonly varName: string;
  readonly device: string;
  readonly req: DmaRequestModel;
  /** Whether the DMA completed (else it faulted). */
  readonly ok: boolean;
  readonly verdict: DmaVerdictKind;
  readonly detail: string;
}

/** Expectations a command derived from the model before calling, for invariants that judge transitions. */
export interface StepExpect {
  /** DESTROY of an object the model says is referenced: must fail EBUSY and change nothing. */
  busyDestroy?: { readonly ctx: number; readonly id: number; readonly type: string };
  /** A ctx closed in this step: every object must be gone. */
  closed?: readonly number[];
}

/** Everything one command (or the final teardown) did. */
export interface StepRecord {
  readonly index: number;
  readonly label: string;
  readonly calls: CallRecord[];
  readonly dmas: DmaRecord[];
  readonly expect: StepExpect;
  /** Transcript lines of this step. */
  readonly lines: string[];
  exception?: unknown;
}
