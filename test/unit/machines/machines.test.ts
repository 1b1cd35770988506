import { describe, expect, test } from 'vitest';
import { createActor } from 'xstate';
import { cmdqMachine } from '../../../machines/cmdq.machine.ts';
import { deviceMachine } from '../../../machines/device.machine.ts';
import { iommuMachine } from '../../../machines/iommu.machine.ts';

describe('device machine', () => {
  test('present → bound → attached per requester → bound → present', () => {
    const a = createActor(deviceMachine, { input: { name: 'nic0', bdf: '0000:01:00.0' } }).start();
    expect(a.getSnapshot().value).toBe('present');
    a.send({ type: 'ATTACH', key: 'rid', hwpt: 3 });
    expect(a.getSnapshot().value).toBe('present');
    a.send({ type: 'BIND', ctx: 1 });
    a.send({ type: 'ATTACH', key: 'rid', hwpt: 3 });
    a.send({ type: 'ATTACH', key: 'pasid:5', hwpt: 4 });
    expect(a.getSnapshot().context.attachments).toEqual({ rid: 3, 'pasid:5': 4 });
    a.send({ type: 'DETACH', key: 'rid' });
    expect(a.getSnapshot().value).toBe('attached');
    a.send({ type: 'DETACH', key: 'pasid:5' });
    expect(a.getSnapshot().value).toBe('bound');
    a.send({ type: 'UNBIND' });
    expect(a.getSnapshot().value).toBe('present');
    expect(a.getSnapshot().context.owner).toBeUndefined();
  });
});

describe('iommu machine', () => {
  test('reset → enabled → fault until acknowledged', () => {
    const a = createActor(iommuMachine, { input: { name: 'i0', vendor: 'mock' } }).start();
    a.send({ type: 'FAULT', reason: 'ignored in reset' });
    expect(a.getSnapshot().value).toBe('reset');
    a.send({ type: 'ENABLE' });
    a.send({ type: 'FAULT', reason: 'not-present' });
    a.send({ type: 'FAULT', reason: 'permission' });
    expect(a.getSnapshot().value).toBe('fault');
    expect(a.getSnapshot().context).toMatchObject({ pendingFaults: 2, lastFault: 'permission' });
    a.send({ type: 'ACK_FAULTS' });
    expect(a.getSnapshot().value).toBe('enabled');
    expect(a.getSnapshot().context.pendingFaults).toBe(0);
  });
});

describe('cmdq machine', () => {
  test('an error halts consumption until acknowledged; vendors provide the signal', () => {
    const signalled: string[] = [];
    const logic = cmdqMachine.provide({
      actions: {
        signalError: ({ event }) => {
          if (event.type === 'ERROR') signalled.push(event.code);
        },
      },
    });
    const q = createActor(logic, { input: { name: 'q' } }).start();
    q.send({ type: 'DOORBELL' });
    expect(q.getSnapshot().value).toBe('disabled');
    q.send({ type: 'ENABLE' });
    q.send({ type: 'DOORBELL' });
    q.send({ type: 'ERROR', code: 'CERROR_ILL', index: 3 });
    expect(q.getSnapshot().value).toBe('halted');
    expect(q.getSnapshot().context).toMatchObject({ error: 'CERROR_ILL', errorIndex: 3 });
    expect(signalled).toEqual(['CERROR_ILL']);
    q.send({ type: 'DRAINED', consumed: 5, barriers: 1 });
    expect(q.getSnapshot().value).toBe('halted');
    q.send({ type: 'ACK_ERROR' });
    q.send({ type: 'WAIT' });
    expect(q.getSnapshot().value).toBe('waiting');
    q.send({ type: 'WAIT_DONE' });
    q.send({ type: 'DRAINED', consumed: 5, barriers: 1 });
    expect(q.getSnapshot().value).toBe('idle');
    expect(q.getSnapshot().context).toMatchObject({ consumed: 5, barriers: 1, error: undefined });
  });
});
