import { type AnyActorLogic, enqueueActions, setup } from 'xstate';
import { type MachineName, machineCatalog } from './catalog.ts';

export type HostEvent =
  /** `src` names a catalog machine, or is a vendor's own machine (queues, vCMDQs ...). */
  | { type: 'SPAWN'; src: MachineName | AnyActorLogic; id: string; input: unknown }
  | { type: 'STOP'; id: string };

/**
 * A host: the parent of its IOMMU, device and queue actors. It holds no state of its own;
 * keeping every hardware actor one level below a host keeps the tree shallow (spawning is
 * linear in the number of siblings), while `systemId`s make each reachable by name.
 */
export const hostMachine = setup({
  types: { context: {} as { name: string }, events: {} as HostEvent, input: {} as { name: string } },
  actors: machineCatalog as Record<MachineName, AnyActorLogic>,
}).createMachine({
  id: 'host',
  context: ({ input }) => ({ name: input.name }),
  initial: 'running',
  states: {
    running: {
      on: {
        SPAWN: {
          actions: enqueueActions(({ enqueue, event }) => {
            enqueue.spawnChild(event.src as MachineName, {
              id: event.id,
              systemId: event.id,
              input: event.input as never,
            });
          }),
        },
        STOP: {
          actions: enqueueActions(({ enqueue, event }) => {
            enqueue.stopChild(event.id);
          }),
        },
      },
    },
  },
});
