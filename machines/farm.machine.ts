import { enqueueActions, setup } from 'xstate';
import { hostMachine } from './host.machine.ts';

export type FarmMachineEvent = { type: 'ADD_HOST'; id: string; name: string };

/** The farm root: its children are hosts, addressed as `systemId` = host name. */
export const farmMachine = setup({
  types: { events: {} as FarmMachineEvent },
  actors: { host: hostMachine },
}).createMachine({
  id: 'farm',
  on: {
    ADD_HOST: {
      actions: enqueueActions(({ enqueue, event }) => {
        enqueue.spawnChild('host', { id: event.id, systemId: event.id, input: { name: event.name } });
      }),
    },
  },
});
