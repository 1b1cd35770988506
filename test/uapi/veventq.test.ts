/**
 * vEVENTQ: `iommufd_viommu.vdevice_alloc`'s event-queue part (catalogue §6, 77–81) and the
 * IOMMU_VEVENTQ_ALLOC / read / overflow rules of spec §2.17.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_VEVENTQ_FLAG_LOST_EVENTS,
  IOMMU_VEVENTQ_TYPE_DEFAULT,
  IOMMU_VEVENTQ_TYPE_SELFTEST,
  VEVENTQ_MAX_DEPTH,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { closeAndCheck } from './helpers/fixture.ts';
import {
  destroy,
  ioasAlloc,
  mockDomainReplace,
  POLLIN,
  parseVevents,
  rawIoctl,
  triggerVevents,
  type ViommuSelf,
  vdeviceAlloc,
  veventqAlloc,
  viommuSelf,
} from './helpers/nested.ts';

const TYPE = IOMMU_VEVENTQ_TYPE_SELFTEST;
/** Header (8) + iommu_viommu_event_selftest (4). */
const REC = 12;

describe('iommufd_viommu/mock_viommu veventq', () => {
  let self: ViommuSelf;
  beforeEach(async () => {
    self = await viommuSelf({ viommu: true });
  });
  afterEach(async (ctx) => {
    if (!ctx.task.result?.errors?.length) await closeAndCheck(self);
  });

  /** vDEVICE 0x99 and the device attached to the fixture's nested hwpt, so TRIGGER_VEVENT reports. */
  async function attachWithVdev(virtId = 0x99n): Promise<number> {
    const vdev = await vdeviceAlloc(self.fd, self.viommuId, self.deviceId, virtId);
    await mockDomainReplace(self.fd, self.stdevId, self.nestedHwptId);
    return vdev;
  }

  test('77 veventq-bounds: depth 0 and MAX+1 → EINVAL; depth MAX → ok', async () => {
    const { fd, viommuId, proc } = self;
    await expectErrno('EINVAL', veventqAlloc(fd, viommuId, TYPE, 0));
    await expectErrno('EINVAL', veventqAlloc(fd, viommuId, TYPE, VEVENTQ_MAX_DEPTH + 1));
    const { veventqId, veventqFd } = await expectOk(veventqAlloc(fd, viommuId, TYPE, VEVENTQ_MAX_DEPTH));
    proc.close(veventqFd);
    await expectOk(destroy(fd, veventqId));
  });

  test('78 veventq-dup: a second queue of the same type → EEXIST', async () => {
    const { fd, viommuId, proc, nestedHwptId } = self;
    const { veventqId, veventqFd } = await expectOk(veventqAlloc(fd, viommuId, TYPE));
    await expectErrno('EEXIST', veventqAlloc(fd, viommuId, TYPE));
    // Neither the failure's object nor its fd survived: the next ID follows the queue's.
    expect(veventqId).toBe(nestedHwptId + 1);
    expect(await ioasAlloc(fd)).toBe(veventqId + 1);
    proc.close(veventqFd);
    await destroy(fd, veventqId);
    // Once destroyed, the type is free again.
    const again = await expectOk(veventqAlloc(fd, viommuId, TYPE));
    proc.close(again.veventqFd);
  });

  test('79 read-empty: count 0 and 7 → EINVAL; an empty queue reads 0 bytes', async () => {
    const { fd, viommuId, proc } = self;
    const { veventqFd } = await veventqAlloc(fd, viommuId, TYPE);
    const file = proc.file(veventqFd);
    await expectErrno('EINVAL', () => file.read(0));
    await expectErrno('EINVAL', () => file.read(7));
    expect(file.read(64).length).toBe(0);
    expect(file.poll() & POLLIN).toBe(0);
    file.close();
  });

  test('80 events: one vEVENT read back whole, EEXIST for a 2nd vDEVICE, detach + destroy', async () => {
    const { fd, viommuId, deviceId, proc, stdevId, ioasId } = self;
    const { veventqId, veventqFd } = await veventqAlloc(fd, viommuId, TYPE);
    const vdev = await attachWithVdev();
    await expectOk(triggerVevents(fd, deviceId, 1));
    const file = proc.file(veventqFd);
    expect(file.poll() & POLLIN).toBe(POLLIN);
    await expectErrno('EINVAL', () => file.read(0));
    // The header alone fits, the record does not: nothing is consumed.
    await expectErrno('EINVAL', () => file.read(8));
    const bytes = file.read(REC);
    expect(bytes.length).toBe(REC);
    expect(parseVevents(bytes)).toEqual([{ flags: 0, sequence: 0, virtId: 0x99 }]);
    expect(file.poll() & POLLIN).toBe(0);
    await expectErrno('EEXIST', vdeviceAlloc(fd, viommuId, deviceId, 0x99n));
    await expectOk(mockDomainReplace(fd, stdevId, ioasId));
    await expectOk(destroy(fd, vdev));
    file.close();
    await expectOk(destroy(fd, veventqId));
  });

  test('81 overflow: depth 2, three events → two events and a LOST_EVENTS header; then no gap', async () => {
    const { fd, viommuId, deviceId, proc } = self;
    const { veventqFd } = await veventqAlloc(fd, viommuId, TYPE);
    await attachWithVdev(0x88n);
    await triggerVevents(fd, deviceId, 3);
    const file = proc.file(veventqFd);
    const recs = parseVevents(file.read(3 * REC));
    expect(recs).toEqual([
      { flags: 0, sequence: 0, virtId: 0x88 },
      { flags: 0, sequence: 1, virtId: 0x88 },
      { flags: IOMMU_VEVENTQ_FLAG_LOST_EVENTS, sequence: 2 },
    ]);
    // The overflow is gone after the read: the next event follows on.
    await triggerVevents(fd, deviceId, 1);
    expect(parseVevents(file.read(REC))).toEqual([{ flags: 0, sequence: 3, virtId: 0x88 }]);
    file.close();
  });

  test('the lost header is re-appended (new sequence) per drop, and removed by the next real event', async () => {
    const { fd, viommuId, deviceId, proc } = self;
    const { veventqFd } = await veventqAlloc(fd, viommuId, TYPE, 1);
    await attachWithVdev();
    await triggerVevents(fd, deviceId, 3);
    const file = proc.file(veventqFd);
    // Only whole records: the 12-byte event, not the 8-byte header after it.
    expect(parseVevents(file.read(REC + 4))).toEqual([{ flags: 0, sequence: 0, virtId: 0x99 }]);
    expect(parseVevents(file.read(64))).toEqual([{ flags: IOMMU_VEVENTQ_FLAG_LOST_EVENTS, sequence: 2 }]);

    await triggerVevents(fd, deviceId, 2); // seq 3 queued, the 2nd dropped → lost header seq 4
    expect(parseVevents(file.read(REC))).toEqual([{ flags: 0, sequence: 3, virtId: 0x99 }]);
    // The lost header is last; a real event replaces it, so the loss shows only as a gap.
    await triggerVevents(fd, deviceId, 1);
    expect(parseVevents(file.read(64))).toEqual([{ flags: 0, sequence: 5, virtId: 0x99 }]);
    file.close();
  });

  test('an open fd holds the queue; the queue holds the vIOMMU', async () => {
    const { fd, viommuId, proc, nestedHwptId } = self;
    const { veventqId, veventqFd } = await veventqAlloc(fd, viommuId, TYPE);
    await expectErrno('EBUSY', destroy(fd, veventqId));
    await destroy(fd, nestedHwptId);
    await expectErrno('EBUSY', destroy(fd, viommuId));
    proc.close(veventqFd);
    await expectOk(destroy(fd, veventqId));
    await expectOk(destroy(fd, viommuId));
  });

  test('TRIGGER_VEVENT: ENOENT unless attached to a vIOMMU nested hwpt with a vDEVICE; EOPNOTSUPP without a queue', async () => {
    const { fd, viommuId, deviceId, stdevId, nestedHwptId } = self;
    await expectErrno('ENOENT', triggerVevents(fd, deviceId, 1));
    await vdeviceAlloc(fd, viommuId, deviceId, 0x99n);
    await expectErrno('ENOENT', triggerVevents(fd, deviceId, 1));
    await mockDomainReplace(fd, stdevId, nestedHwptId);
    await expectErrno('EOPNOTSUPP', triggerVevents(fd, deviceId, 1));
  });

  test('ALLOC check order: flags/__reserved/type DEFAULT → EOPNOTSUPP, depth → EINVAL, then the vIOMMU', async () => {
    const { fd, viommuId } = self;
    const base = { viommu_id: 0, type: TYPE, veventq_depth: 0 };
    await expectErrno('EOPNOTSUPP', rawIoctl(fd, 'IOMMU_VEVENTQ_ALLOC', { ...base, flags: 1 }));
    await expectErrno('EOPNOTSUPP', rawIoctl(fd, 'IOMMU_VEVENTQ_ALLOC', { ...base, __reserved: 1 }));
    await expectErrno(
      'EOPNOTSUPP',
      rawIoctl(fd, 'IOMMU_VEVENTQ_ALLOC', { ...base, type: IOMMU_VEVENTQ_TYPE_DEFAULT }),
    );
    await expectErrno('EINVAL', rawIoctl(fd, 'IOMMU_VEVENTQ_ALLOC', base));
    await expectErrno('ENOENT', veventqAlloc(fd, 0, TYPE));
    await expectErrno('ENOENT', veventqAlloc(fd, self.hwptId, TYPE));
    // Any non-DEFAULT type is accepted by the core; each type gets its own queue.
    const a = await expectOk(veventqAlloc(fd, viommuId, TYPE));
    const b = await expectOk(veventqAlloc(fd, viommuId, 0x1234));
    self.proc.close(a.veventqFd);
    self.proc.close(b.veventqFd);
  });
});
