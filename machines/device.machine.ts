import { assign, setup } from 'xstate';

/** Where a device's DMA goes, per requester: the RID itself or one of its PASIDs. */
export type AttachKey = 'rid' | `pasid:${number}`;

export interface DeviceContext {
  readonly name: string;
  readonly bdf: string;
  /** The iommufd ctx that owns the device's DMA, when bound. */
  owner: number | undefined;
  /** Attached page-table (HWPT) id per requester; absent means DMA from it is blocked. */
  attachments: Partial<Record<AttachKey, number>>;
}

export type DeviceEvent =
  | { type: 'BIND'; ctx: number }
  | { type: 'UNBIND' }
  | { type: 'ATTACH'; key: AttachKey; hwpt: number }
  | { type: 'DETACH'; key: AttachKey }
  | { type: 'REMOVE' };

/**
 * A PCI function's lifecycle as iommufd sees it: present (no owner, DMA blocked) → bound to a
 * ctx (still blocked) → attached per RID/PASID. DMA itself never goes through this machine:
 * it reads the attachment the IOMMU hardware holds; the machine records the control plane.
 */
export const deviceMachine = setup({
  types: {
    context: {} as DeviceContext,
    events: {} as DeviceEvent,
    input: {} as { name: string; bdf: string },
  },
  actions: {
    recordOwner: assign({
      owner: ({ event }) => (event.type === 'BIND' ? event.ctx : undefined),
    }),
    clearOwner: assign({ owner: undefined, attachments: {} }),
    recordAttach: assign({
      attachments: ({ context, event }) =>
        event.type === 'ATTACH' ? { ...context.attachments, [event.key]: event.hwpt } : context.attachments,
    }),
    recordDetach: assign({
      attachments: ({ context, event }) => {
        if (event.type !== 'DETACH') return context.attachments;
        const { [event.key]: _gone, ...rest } = context.attachments;
        return rest;
      },
    }),
  },
  guards: {
    detachesLast: ({ context, event }) =>
      event.type === 'DETACH' && Object.keys(context.attachments).every((k) => k === event.key),
  },
}).createMachine({
  id: 'device',
  context: ({ input }) => ({ name: input.name, bdf: input.bdf, owner: undefined, attachments: {} }),
  initial: 'present',
  states: {
    present: {
      on: { BIND: { target: 'bound', actions: 'recordOwner' }, REMOVE: 'removed' },
    },
    bound: {
      on: {
        ATTACH: { target: 'attached', actions: 'recordAttach' },
        UNBIND: { target: 'present', actions: 'clearOwner' },
      },
    },
    attached: {
      on: {
        ATTACH: { actions: 'recordAttach' },
        DETACH: [
          { guard: 'detachesLast', target: 'bound', actions: 'recordDetach' },
          { actions: 'recordDetach' },
        ],
        UNBIND: { target: 'present', actions: 'clearOwner' },
      },
    },
    removed: { type: 'final' },
  },
});
