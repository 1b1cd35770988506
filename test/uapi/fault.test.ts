/**
 * FAULT objects and the `[iommufd-pgfault]` fd: IOMMU_FAULT_QUEUE_ALLOC, read/write/poll and the
 * auto-response on detach/replace (spec §2.14), driven by IOMMU_TEST_OP_TRIGGER_IOPF as the
 * selftest's `_test_cmd_trigger_iopf` does.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  type FileHandle,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_PGFAULT_FLAGS_LAST_PAGE,
  IOMMU_PGFAULT_FLAGS_PASID_VALID,
  IOMMU_PGFAULT_PERM_READ,
  IOMMU_TEST_OP_TRIGGER_IOPF,
  IOMMUFD_PAGE_RESP_INVALID,
  IOMMUFD_PAGE_RESP_SUCCESS,
  iommu_hwpt_page_response,
  iommu_hwpt_pgfault,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { closeAndCheck, mockDomain } from './helpers/fixture.ts';
import {
  destroy,
  faultAlloc,
  hwptAlloc,
  hwptAllocNested,
  type IoasSelf,
  ioasAlloc,
  ioasSelf,
  mockDomainReplace,
  POLLIN,
  POLLOUT,
  triggerIopf,
} from './helpers/nested.ts';

const MSG = iommu_hwpt_pgfault.sizeof;
const RESP = iommu_hwpt_page_response.sizeof;

const resp = (cookie: number, code: number = IOMMUFD_PAGE_RESP_SUCCESS) =>
  iommu_hwpt_page_response.encode({ cookie, code });

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function messages(bytes: Uint8Array) {
  const out = [];
  for (let off = 0; off < bytes.length; off += MSG)
    out.push(iommu_hwpt_pgfault.decode(bytes.subarray(off, off + MSG)));
  return out;
}

describe('IOMMU_FAULT_QUEUE_ALLOC', () => {
  test('flags → EOPNOTSUPP, no ID or fd consumed', async () => {
    const self = await ioasSelf({ name: 'no_domain', mockDomains: 0 });
    const fdsBefore = self.proc.files;
    await expectErrno('EOPNOTSUPP', faultAlloc(self.fd, 1));
    const { faultId, faultFd } = await expectOk(faultAlloc(self.fd));
    expect(faultId).toBe(self.ioasId + 1);
    expect(fdsBefore.get(faultFd).kind).toBe('[iommufd-pgfault]');
    // The fd holds the object.
    await expectErrno('EBUSY', destroy(self.fd, faultId));
    self.proc.close(faultFd);
    await expectOk(destroy(self.fd, faultId));
    expect(await ioasAlloc(self.fd)).toBe(faultId);
    await closeAndCheck(self);
  });
});

describe('fault fd', () => {
  let self: IoasSelf;
  let parent: number;
  let faultId: number;
  let faultFd: number;
  let iopf: number;
  let file: FileHandle;
  beforeEach(async () => {
    self = await ioasSelf({ name: 'mock_domain', mockDomains: 1, pasidCapable: true });
    const { fd, deviceId, ioasId, stdevId } = self;
    parent = await hwptAlloc(fd, deviceId, ioasId, IOMMU_HWPT_ALLOC_NEST_PARENT);
    ({ faultId, faultFd } = await faultAlloc(fd));
    iopf = await hwptAllocNested(fd, deviceId, parent, IOMMU_HWPT_FAULT_ID_VALID, { faultId });
    await mockDomainReplace(fd, stdevId, iopf);
    file = self.proc.file(faultFd);
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.errors?.length) return;
    await mockDomainReplace(self.fd, self.stdevId, self.ioasId);
    if (self.proc.files.has(faultFd)) self.proc.close(faultFd);
    await closeAndCheck(self);
  });

  /** TRIGGER_IOPF without reading: the fault stays queued. */
  function trigger(grpid: number, pasid = 0, devId = self.deviceId) {
    return self.fd.ioctl('IOMMU_TEST_CMD', {
      op: IOMMU_TEST_OP_TRIGGER_IOPF,
      trigger_iopf: {
        dev_id: devId,
        pasid,
        grpid,
        perm: IOMMU_PGFAULT_PERM_READ,
        addr: 0x1000n * BigInt(grpid),
      },
    });
  }

  test('the selftest round trip: a message per fault, answered by cookie', async () => {
    const fault = await expectOk(triggerIopf(self.fd, self.deviceId, faultFd));
    expect(fault.cookie).toBe(1);
    // The answered cookie is free again: the next group reuses it (lowest free, from 1).
    const next = await expectOk(triggerIopf(self.fd, self.deviceId, faultFd));
    expect(next.cookie).toBe(1);
  });

  test('read: count % 40 → ESPIPE; an empty queue reads 0 bytes; poll is POLLOUT, + POLLIN when queued', async () => {
    await expectErrno('ESPIPE', () => file.read(MSG - 1));
    await expectErrno('ESPIPE', () => file.read(MSG + 1));
    expect(file.read(MSG).length).toBe(0);
    expect(file.poll()).toBe(POLLOUT);
    await trigger(5);
    expect(file.poll()).toBe(POLLOUT | POLLIN);
    await expectErrno('ESPIPE', () => file.read(MSG - 1));
    const [m] = messages(file.read(MSG));
    expect(m).toMatchObject({
      flags: IOMMU_PGFAULT_FLAGS_LAST_PAGE,
      dev_id: self.deviceId,
      pasid: 0,
      grpid: 5,
      perm: IOMMU_PGFAULT_PERM_READ,
      addr: 0x5000n,
      length: 0,
      cookie: 1,
    });
    expect(file.poll()).toBe(POLLOUT);
  });

  test('read delivers whole groups only; the rest stays queued', async () => {
    await trigger(1);
    await trigger(2);
    await trigger(3);
    const first = messages(file.read(2 * MSG));
    expect(first.map((m) => m.grpid)).toEqual([1, 2]);
    expect(first.map((m) => m.cookie)).toEqual([1, 2]);
    expect(file.poll() & POLLIN).toBe(POLLIN);
    const rest = messages(file.read(4 * MSG));
    expect(rest.map((m) => [m.grpid, m.cookie])).toEqual([[3, 3]]);
  });

  test('[new] read(0) with a group queued: the first group does not fit → EINVAL, and it stays queued', async () => {
    await trigger(1);
    await expectErrno('EINVAL', () => file.read(0));
    expect(messages(file.read(MSG)).map((m) => m.grpid)).toEqual([1]);
  });

  test('write: count % 8 → ESPIPE; bad code or unknown cookie → EINVAL; partial writes count what was done', async () => {
    await trigger(1);
    await trigger(2);
    const [a, b] = messages(file.read(2 * MSG));
    await expectErrno('ESPIPE', () => file.write(resp(a!.cookie).subarray(0, RESP - 1)));
    await expectErrno('EINVAL', () => file.write(resp(a!.cookie, 2)));
    await expectErrno('EINVAL', () => file.write(resp(0x77)));
    // The first response is good, the second names an unknown cookie: 8 bytes written.
    expect(file.write(concat(resp(a!.cookie), resp(0x77)))).toBe(RESP);
    // a's cookie is answered and gone; b's still waits.
    await expectErrno('EINVAL', () => file.write(resp(a!.cookie)));
    expect(file.write(resp(b!.cookie, IOMMUFD_PAGE_RESP_INVALID))).toBe(RESP);
  });

  test('replace away from the iopf hwpt auto-responds: queued groups vanish, read cookies go stale', async () => {
    await trigger(1);
    const [read] = messages(file.read(MSG));
    await trigger(2);
    expect(file.poll() & POLLIN).toBe(POLLIN);
    await mockDomainReplace(self.fd, self.stdevId, parent);
    expect(file.poll()).toBe(POLLOUT);
    expect(file.read(MSG).length).toBe(0);
    await expectErrno('EINVAL', () => file.write(resp(read!.cookie)));
  });

  test('a PASID fault with no attachment at that PASID goes to the nested RID hwpt (user PASID table)', async () => {
    await trigger(9, 77);
    const [m] = messages(file.read(MSG));
    expect(m).toMatchObject({
      flags: IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE,
      pasid: 77,
      grpid: 9,
    });
  });

  test('a fault of a device whose hwpt has no fault queue is not delivered', async () => {
    await mockDomainReplace(self.fd, self.stdevId, parent);
    await expectOk(trigger(1));
    expect(file.read(MSG).length).toBe(0);
  });

  test('the FAULT stays busy while a hwpt references it, even with its fd closed', async () => {
    self.proc.close(faultFd);
    await expectErrno('EBUSY', destroy(self.fd, faultId));
    await mockDomainReplace(self.fd, self.stdevId, parent);
    await destroy(self.fd, iopf);
    await expectOk(destroy(self.fd, faultId));
  });

  test('two devices share one FAULT: dev_id tells them apart', async () => {
    const { fd, ioasId } = self;
    const dev2 = await mockDomain(fd, ioasId);
    await mockDomainReplace(fd, dev2.stdevId, iopf);
    await trigger(1);
    await trigger(1, 0, dev2.idevId);
    const ms = messages(file.read(2 * MSG));
    expect(ms.map((m) => m.dev_id)).toEqual([self.deviceId, dev2.idevId]);
    expect(ms.map((m) => m.cookie)).toEqual([1, 2]);
    await mockDomainReplace(fd, dev2.stdevId, ioasId);
  });
});
