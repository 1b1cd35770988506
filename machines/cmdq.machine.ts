import { assign, setup } from 'xstate';

export interface CmdqContext {
  readonly name: string;
  /** Entries consumed since enable (a summary, updated per batch). */
  consumed: number;
  /** Barriers (CMD_SYNC / inv_wait / COMPLETION_WAIT) completed. */
  barriers: number;
  /** The vendor's error code while halted (CERROR_ILL, IQE, ILLEGAL_COMMAND ...). */
  error: string | undefined;
  /** Ring index of the entry that halted the queue. */
  errorIndex: number | undefined;
}

export type CmdqEvent =
  | { type: 'ENABLE' }
  | { type: 'DISABLE' }
  /** Software moved the producer index: there is work. */
  | { type: 'DOORBELL' }
  /** The consumer caught up with the producer; `consumed` entries in this batch. */
  | { type: 'DRAINED'; consumed: number; barriers: number }
  /** A barrier waits for outstanding work (ATC invalidation completions) before it completes. */
  | { type: 'WAIT' }
  | { type: 'WAIT_DONE' }
  /** An illegal entry or a timeout: consumption stops at `index` until software acknowledges. */
  | { type: 'ERROR'; code: string; index: number }
  | { type: 'ACK_ERROR' };

/**
 * A hardware command queue's mode: disabled → idle ⇄ consuming, a barrier that waits for
 * device completions, and a halted state that holds the consumer at the bad entry until
 * software acknowledges the error. Entries themselves are processed in plain code; this
 * machine receives one summary per batch. Vendors specialise it with `provide`.
 */
export const cmdqMachine = setup({
  types: {
    context: {} as CmdqContext,
    events: {} as CmdqEvent,
    input: {} as { name: string },
  },
  actions: {
    countBatch: assign({
      consumed: ({ context, event }) => context.consumed + (event.type === 'DRAINED' ? event.consumed : 0),
      barriers: ({ context, event }) => context.barriers + (event.type === 'DRAINED' ? event.barriers : 0),
    }),
    recordError: assign({
      error: ({ event }) => (event.type === 'ERROR' ? event.code : undefined),
      errorIndex: ({ event }) => (event.type === 'ERROR' ? event.index : undefined),
    }),
    clearError: assign({ error: undefined, errorIndex: undefined }),
    /** Vendor hook: raise the global error (GERROR.CMDQ_ERR, FSTS.IQE, event log entry). */
    signalError: () => {},
  },
}).createMachine({
  id: 'cmdq',
  context: ({ input }) => ({
    name: input.name,
    consumed: 0,
    barriers: 0,
    error: undefined,
    errorIndex: undefined,
  }),
  initial: 'disabled',
  states: {
    disabled: { on: { ENABLE: 'idle' } },
    idle: {
      on: {
        DOORBELL: 'consuming',
        DRAINED: { actions: 'countBatch' },
        DISABLE: 'disabled',
      },
    },
    consuming: {
      on: {
        DRAINED: { target: 'idle', actions: 'countBatch' },
        WAIT: 'waiting',
        ERROR: { target: 'halted', actions: ['recordError', 'signalError'] },
        DISABLE: 'disabled',
      },
    },
    waiting: {
      on: {
        WAIT_DONE: 'consuming',
        ERROR: { target: 'halted', actions: ['recordError', 'signalError'] },
        DISABLE: 'disabled',
      },
    },
    halted: {
      on: {
        ACK_ERROR: { target: 'consuming', actions: 'clearError' },
        DISABLE: { target: 'disabled', actions: 'clearError' },
      },
    },
  },
});
