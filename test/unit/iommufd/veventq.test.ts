import { describe, expect, test } from 'vitest';
import type { Veventq } from '../../../actors/iommufd/veventq.ts';
import type { Viommu } from '../../../actors/iommufd/viommu.ts';
import {
  IOMMU_TEST_OP_TRIGGER_VEVENT,
  IOMMU_VEVENTQ_FLAG_LOST_EVENTS,
  IOMMU_VEVENTQ_TYPE_DEFAULT,
  IOMMU_VEVENTQ_TYPE_SELFTEST,
  iommufd_vevent_header,
  VEVENTQ_MAX_DEPTH,
} from '../../../index.ts';
import { destroy, nextId, rawIoctl, replace, viommuFixture } from './viommu-fixture.ts';

const SELFTEST = IOMMU_VEVENTQ_TYPE_SELFTEST;
const POLLIN = 1;
const LOST = IOMMU_VEVENTQ_FLAG_LOST_EVENTS;

type Fixture = Awaited<ReturnType<typeof viommuFixture>>;

async function veventqAlloc(f: Fixture, fields: Record<string, unknown> = {}) {
  const out = await f.fd.ioctl('IOMMU_VEVENTQ_ALLOC', {
    viommu_id: f.viommuId,
    type: SELFTEST,
    veventq_depth: 2,
    ...fields,
  });
  const id = out.out_veventq_id as number;
  const fdno = out.out_veventq_fd as number;
  return { id, fdno, file: f.proc.file(fdno), q: f.fd.ctx.objects.get<Veventq>(id, 'VEVENTQ') };
}

/** Decodes a read() into records. */
function records(bytes: Uint8Array, payload = 4) {
  const out: Array<{ flags: number; sequence: number; data: Uint8Array }> = [];
  for (let off = 0; off < bytes.length; ) {
    const h = iommufd_vevent_header.decode(bytes, off);
    const n = h.flags & LOST ? 0 : payload;
    out.push({ ...h, data: bytes.slice(off + 8, off + 8 + n) });
    off += 8 + n;
  }
  return out;
}

const ev = (n: number) => new Uint8Array([n, 0, 0, 0]);

describe('IOMMU_VEVENTQ_ALLOC', () => {
  test('check order: flags/__reserved/type, depth bounds, vIOMMU, duplicate type; no fd or ID left behind', async () => {
    const f = await viommuFixture();
    const before = await nextId(f.fd);
    const fds = f.proc.files.size;
    const bad = (fields: Record<string, unknown>) =>
      rawIoctl(f.fd, 'IOMMU_VEVENTQ_ALLOC', {
        viommu_id: f.viommuId,
        type: SELFTEST,
        veventq_depth: 2,
        ...fields,
      });
    await expect(bad({ flags: 1, veventq_depth: 0, viommu_id: 0 })).rejects.toMatchObject({
      errno: 'EOPNOTSUPP',
    });
    await expect(bad({ __reserved: 1, veventq_depth: 0 })).rejects.toMatchObject({ errno: 'EOPNOTSUPP' });
    await expect(bad({ type: IOMMU_VEVENTQ_TYPE_DEFAULT })).rejects.toMatchObject({ errno: 'EOPNOTSUPP' });
    await expect(bad({ veventq_depth: 0, viommu_id: 0 })).rejects.toMatchObject({ errno: 'EINVAL' });
    await expect(bad({ veventq_depth: VEVENTQ_MAX_DEPTH + 1 })).rejects.toMatchObject({ errno: 'EINVAL' });
    await expect(bad({ viommu_id: 0 })).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(bad({ viommu_id: f.parentId })).rejects.toMatchObject({ errno: 'ENOENT' });
    expect(await nextId(f.fd)).toBe(before);
    expect(f.proc.files.size).toBe(fds);
    const a = await veventqAlloc(f, { veventq_depth: VEVENTQ_MAX_DEPTH });
    expect(a.id).toBe(before);
    expect(a.file.kind).toBe('[iommufd-viommu-event]');
    await expect(veventqAlloc(f)).rejects.toMatchObject({ errno: 'EEXIST' });
    expect(f.proc.files.size).toBe(fds + 1);
    // Another type is a different queue.
    const b = await veventqAlloc(f, { type: SELFTEST + 1 });
    expect(b.id).toBe(before + 1);
  });

  test('a failed copy-back returns EFAULT, releases the fd number and the ID', async () => {
    const f = await viommuFixture();
    const before = await nextId(f.fd);
    const fds = f.proc.files.fds();
    await expect(
      rawIoctl(
        f.fd,
        'IOMMU_VEVENTQ_ALLOC',
        { viommu_id: f.viommuId, type: SELFTEST, veventq_depth: 2 },
        { readOnly: true },
      ),
    ).rejects.toMatchObject({ errno: 'EFAULT' });
    // placeUser's memfd took one fd; the queue's did not survive.
    expect(f.proc.files.fds()).toHaveLength(fds.length + 1);
    expect(await nextId(f.fd)).toBe(before);
    const viommu = f.fd.ctx.objects.get<Viommu>(f.viommuId, 'VIOMMU');
    expect(viommu.veventqs.size).toBe(0);
    await veventqAlloc(f);
  });

  test('the fd holds the queue and the queue holds the vIOMMU', async () => {
    const f = await viommuFixture();
    const { id, file } = await veventqAlloc(f);
    await destroy(f.fd, f.nestedId);
    await expect(destroy(f.fd, id)).rejects.toMatchObject({ errno: 'EBUSY' });
    await expect(destroy(f.fd, f.viommuId)).rejects.toMatchObject({ errno: 'EBUSY' });
    file.close();
    await destroy(f.fd, id);
    // The type is free again once the queue is gone.
    const again = await veventqAlloc(f);
    again.file.close();
    await destroy(f.fd, again.id);
    await destroy(f.fd, f.viommuId);
  });

  test('an open queue fd keeps the ctx alive past close(iommufd)', async () => {
    const f = await viommuFixture();
    const { file } = await veventqAlloc(f);
    await f.fd.close();
    expect(f.fd.ctx.closed).toBe(false);
    file.close();
    await f.fd.file.closed;
    expect(f.fd.ctx.closed).toBe(true);
    expect(f.fd.ctx.objects.size).toBe(0);
  });
});

describe('vEVENTQ read, poll and the lost-events header', () => {
  test('read: count < 8 EINVAL, empty 0 bytes, a record that does not fit EINVAL, whole records only', async () => {
    const f = await viommuFixture();
    const { file, q } = await veventqAlloc(f, { veventq_depth: 4 });
    expect(() => file.read(0)).toThrow(expect.objectContaining({ errno: 'EINVAL' }));
    expect(() => file.read(7)).toThrow(expect.objectContaining({ errno: 'EINVAL' }));
    expect(file.read(8)).toHaveLength(0);
    q.report(ev(1));
    q.report(ev(2));
    expect(() => file.read(8)).toThrow(expect.objectContaining({ errno: 'EINVAL' }));
    expect(q.queued).toBe(2);
    const one = records(file.read(20));
    expect(one).toEqual([{ flags: 0, sequence: 0, data: ev(1) }]);
    expect(records(file.read(2 ** 31))).toEqual([{ flags: 0, sequence: 1, data: ev(2) }]);
    expect(q.numEvents).toBe(0);
  });

  test('poll and readable$ follow the queue', async () => {
    const f = await viommuFixture();
    const { file, q } = await veventqAlloc(f);
    const levels: boolean[] = [];
    const sub = file.readable$.subscribe((v) => levels.push(v));
    expect(file.poll()).toBe(0);
    q.report(ev(1));
    expect(file.poll()).toBe(POLLIN);
    file.read(12);
    expect(file.poll()).toBe(0);
    sub.unsubscribe();
    expect(levels).toEqual([false, true, false]);
  });

  test('a full queue drops events behind one lost header that moves to the tail with a new sequence', async () => {
    const f = await viommuFixture();
    const { file, q } = await veventqAlloc(f, { veventq_depth: 2 });
    q.report(ev(0)); // seq 0
    q.report(ev(1)); // seq 1
    q.report(ev(2)); // dropped: lost header, seq 2
    q.report(ev(3)); // dropped: the same header again, seq 3
    expect(q.queued).toBe(3);
    expect(q.numEvents).toBe(2);
    expect(records(file.read(64))).toEqual([
      { flags: 0, sequence: 0, data: ev(0) },
      { flags: 0, sequence: 1, data: ev(1) },
      { flags: LOST, sequence: 3, data: new Uint8Array(0) },
    ]);
    q.report(ev(4));
    expect(records(file.read(64))).toEqual([{ flags: 0, sequence: 4, data: ev(4) }]);
  });

  test('an event after a loss replaces the lost header: the loss shows as a sequence gap', async () => {
    const f = await viommuFixture();
    const { file, q } = await veventqAlloc(f, { veventq_depth: 2 });
    q.report(ev(0));
    q.report(ev(1));
    q.report(ev(2)); // lost header, seq 2
    expect(records(file.read(12))).toEqual([{ flags: 0, sequence: 0, data: ev(0) }]);
    q.report(ev(3)); // room again: the header goes, the event takes seq 3
    expect(records(file.read(64))).toEqual([
      { flags: 0, sequence: 1, data: ev(1) },
      { flags: 0, sequence: 3, data: ev(3) },
    ]);
  });

  test('a lost header alone is read as 8 bytes', async () => {
    const f = await viommuFixture();
    const { file, q } = await veventqAlloc(f, { veventq_depth: 1 });
    q.report(ev(0));
    q.report(ev(1));
    file.read(12);
    expect(records(file.read(8))).toEqual([{ flags: LOST, sequence: 1, data: new Uint8Array(0) }]);
    expect(file.read(8)).toHaveLength(0);
  });

  test('sequence numbers wrap from INT_MAX to 0', async () => {
    const f = await viommuFixture();
    const { file, q } = await veventqAlloc(f, { veventq_depth: 4 });
    q.nextSequence = 0x7fff_fffe;
    q.report(ev(0));
    q.report(ev(1));
    q.report(ev(2));
    expect(records(file.read(64)).map((r) => r.sequence)).toEqual([0x7fff_fffe, 0x7fff_ffff, 0]);
  });

  test('reportEvent: EOPNOTSUPP without a queue of that type, EINVAL for an empty payload', async () => {
    const f = await viommuFixture();
    const viommu = f.fd.ctx.objects.get<Viommu>(f.viommuId, 'VIOMMU');
    expect(() => viommu.reportEvent(SELFTEST, ev(0))).toThrow(
      expect.objectContaining({ errno: 'EOPNOTSUPP' }),
    );
    await veventqAlloc(f);
    expect(() => viommu.reportEvent(SELFTEST, new Uint8Array(0))).toThrow(
      expect.objectContaining({ errno: 'EINVAL' }),
    );
    expect(() => viommu.ref.reportEvent(SELFTEST + 1, ev(0))).toThrow(
      expect.objectContaining({ errno: 'EOPNOTSUPP' }),
    );
  });
});

describe('IOMMU_TEST_OP_TRIGGER_VEVENT', () => {
  const trigger = (f: Fixture, devId = f.idevId) =>
    f.fd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_TRIGGER_VEVENT, trigger_vevent: { dev_id: devId } });

  test('catalogue 80: ENOENT unless attached through a vDEVICE; EOPNOTSUPP without a queue; virt_id payload', async () => {
    const f = await viommuFixture();
    await expect(trigger(f, f.stdevId)).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(trigger(f)).rejects.toMatchObject({ errno: 'ENOENT' });
    const { out_vdevice_id } = await f.fd.ioctl('IOMMU_VDEVICE_ALLOC', {
      viommu_id: f.viommuId,
      dev_id: f.idevId,
      virt_id: 0x99n,
    });
    await expect(trigger(f)).rejects.toMatchObject({ errno: 'ENOENT' });
    await replace(f.fd, f.stdevId, f.nestedId);
    await expect(trigger(f)).rejects.toMatchObject({ errno: 'EOPNOTSUPP' });
    const { file } = await veventqAlloc(f);
    await trigger(f);
    expect(() => file.read(8)).toThrow(expect.objectContaining({ errno: 'EINVAL' }));
    expect(records(file.read(12))).toEqual([
      { flags: 0, sequence: 0, data: new Uint8Array([0x99, 0, 0, 0]) },
    ]);
    await expect(
      f.fd.ioctl('IOMMU_VDEVICE_ALLOC', { viommu_id: f.viommuId, dev_id: f.idevId, virt_id: 0x99n }),
    ).rejects.toMatchObject({ errno: 'EEXIST' });
    await replace(f.fd, f.stdevId, f.ioasId);
    await destroy(f.fd, out_vdevice_id as number);
  });
});
