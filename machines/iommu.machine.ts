import { assign, setup } from 'xstate';

export interface IommuContext {
  readonly name: string;
  readonly vendor: string;
  /** Faults recorded since the last acknowledgement. */
  pendingFaults: number;
  lastFault: string | undefined;
}

export type IommuEvent =
  | { type: 'ENABLE' }
  | { type: 'RESET' }
  | { type: 'FAULT'; reason: string }
  | { type: 'ACK_FAULTS' };

/**
 * An IOMMU instance's mode: out of reset it translates nothing; the driver enables it; a
 * recorded fault moves it to `fault` (translation goes on, software has something to read)
 * until the driver acknowledges. Vendors specialise it with `provide`, never by forking.
 */
export const iommuMachine = setup({
  types: {
    context: {} as IommuContext,
    events: {} as IommuEvent,
    input: {} as { name: string; vendor: string },
  },
  actions: {
    recordFault: assign({
      pendingFaults: ({ context }) => context.pendingFaults + 1,
      lastFault: ({ event }) => (event.type === 'FAULT' ? event.reason : undefined),
    }),
    clearFaults: assign({ pendingFaults: 0 }),
  },
}).createMachine({
  id: 'iommu',
  context: ({ input }) => ({
    name: input.name,
    vendor: input.vendor,
    pendingFaults: 0,
    lastFault: undefined,
  }),
  initial: 'reset',
  states: {
    reset: { on: { ENABLE: 'enabled' } },
    enabled: {
      on: {
        FAULT: { target: 'fault', actions: 'recordFault' },
        RESET: { target: 'reset', actions: 'clearFaults' },
      },
    },
    fault: {
      on: {
        FAULT: { actions: 'recordFault' },
        ACK_FAULTS: { target: 'enabled', actions: 'clearFaults' },
        RESET: { target: 'reset', actions: 'clearFaults' },
      },
    },
  },
});
