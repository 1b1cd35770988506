import { describe, expect, test } from 'vitest';
import type { IommufdDevice } from '../../../actors/iommufd/device.ts';
import type { Fault } from '../../../actors/iommufd/fault.ts';
import { reportDeviceFault } from '../../../actors/iommufd/iopf.ts';
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_PGFAULT_FLAGS_LAST_PAGE,
  IOMMU_PGFAULT_FLAGS_PASID_VALID,
  IOMMU_PGFAULT_PERM_READ,
  IOMMU_PGFAULT_PERM_WRITE,
  IOMMU_TEST_OP_TRIGGER_IOPF,
  IOMMUFD_PAGE_RESP_INVALID,
  IOMMUFD_PAGE_RESP_SUCCESS,
  iommu_hwpt_page_response,
  iommu_hwpt_pgfault,
} from '../../../index.ts';
import type { DeviceRef } from '../../../vendors/driver.ts';
import { destroy, ioasFixture, nextId, rawIoctl, replace } from './viommu-fixture.ts';

const POLLIN = 1;
const POLLOUT = 4;
const SZ = iommu_hwpt_pgfault.sizeof;
const RW = IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE;

type Response = { dev: string; pasid: number | undefined; grpid: number; code: number };

/** IOAS + mock device + a FAULT, a nest parent and a nested HWPT taking faults (catalogue 48/53). */
async function iopfFixture() {
  const f = await ioasFixture();
  const { fd, idevId, ioasId } = f;
  const out = await fd.ioctl('IOMMU_FAULT_QUEUE_ALLOC', {});
  const faultId = out.out_fault_id as number;
  const faultFd = out.out_fault_fd as number;
  const parent = await fd.ioctl('IOMMU_HWPT_ALLOC', {
    dev_id: idevId,
    pt_id: ioasId,
    flags: IOMMU_HWPT_ALLOC_NEST_PARENT,
  });
  const iopf = await fd.ioctl('IOMMU_HWPT_ALLOC', {
    dev_id: idevId,
    pt_id: parent.out_hwpt_id,
    flags: IOMMU_HWPT_FAULT_ID_VALID,
    fault_id: faultId,
    data_type: IOMMU_HWPT_DATA_SELFTEST,
    data_uptr: { iotlb: 0 },
  });
  const idev = fd.ctx.objects.get<IommufdDevice>(idevId, 'DEVICE');
  // The mock has no page_response of its own: record what the core forwards.
  const responses: Response[] = [];
  const driver = idev.kdev.iommu.driver as { pageResponse?: unknown };
  driver.pageResponse = (dev: DeviceRef, pasid: number | undefined, grpid: number, code: number) =>
    responses.push({ dev: dev.name, pasid, grpid, code });
  return {
    ...f,
    faultId,
    faultFd,
    file: f.proc.file(faultFd),
    fault: fd.ctx.objects.get<Fault>(faultId, 'FAULT'),
    parentId: parent.out_hwpt_id as number,
    iopfId: iopf.out_hwpt_id as number,
    idev,
    responses,
  };
}

type Fixture = Awaited<ReturnType<typeof iopfFixture>>;

function trigger(f: Fixture, o: { pasid?: number; grpid?: number; addr?: bigint; devId?: number } = {}) {
  return f.fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_TRIGGER_IOPF,
    trigger_iopf: {
      dev_id: o.devId ?? f.idevId,
      pasid: o.pasid ?? 1,
      grpid: o.grpid ?? 2,
      perm: RW,
      addr: o.addr ?? 0xdeadbeafn,
    },
  });
}

function messages(bytes: Uint8Array) {
  const out = [];
  for (let off = 0; off < bytes.length; off += SZ) out.push(iommu_hwpt_pgfault.decode(bytes, off));
  return out;
}

const response = (...rs: Array<{ cookie: number; code: number }>) => {
  const b = new Uint8Array(rs.length * 8);
  for (const [i, r] of rs.entries()) iommu_hwpt_page_response.encodeInto(r, b, i * 8);
  return b;
};

describe('IOMMU_FAULT_QUEUE_ALLOC', () => {
  test('flags EOPNOTSUPP; a failure leaves no fd and no ID', async () => {
    const { fd, proc } = await ioasFixture();
    const before = await nextId(fd);
    const fds = proc.files.size;
    await expect(fd.ioctl('IOMMU_FAULT_QUEUE_ALLOC', { flags: 1 })).rejects.toMatchObject({
      errno: 'EOPNOTSUPP',
    });
    // Readable but not writable: the object is built, the copy-back faults, all is undone.
    await expect(rawIoctl(fd, 'IOMMU_FAULT_QUEUE_ALLOC', {}, { readOnly: true })).rejects.toMatchObject({
      errno: 'EFAULT',
    });
    expect(proc.files.size).toBe(fds + 1); // only the memfd behind the read-only struct
    expect(await nextId(fd)).toBe(before);
    const out = await fd.ioctl('IOMMU_FAULT_QUEUE_ALLOC', {});
    expect(out.out_fault_id).toBe(before);
    const file = proc.file(out.out_fault_fd as number);
    expect(file.kind).toBe('[iommufd-pgfault]');
    await expect(destroy(fd, before)).rejects.toMatchObject({ errno: 'EBUSY' });
    file.close();
    await destroy(fd, before);
  });

  test('the fd holds the FAULT (EBUSY until close); a HWPT holds it too', async () => {
    const f = await iopfFixture();
    await expect(destroy(f.fd, f.faultId)).rejects.toMatchObject({ errno: 'EBUSY' });
    f.file.close();
    await expect(destroy(f.fd, f.faultId)).rejects.toMatchObject({ errno: 'EBUSY' });
    await destroy(f.fd, f.iopfId);
    await destroy(f.fd, f.faultId);
  });

  test('an open fault fd keeps the ctx alive past close(iommufd)', async () => {
    const f = await iopfFixture();
    await f.fd.close();
    expect(f.fd.ctx.closed).toBe(false);
    expect(f.fd.ctx.objects.size).toBeGreaterThan(0);
    f.file.close();
    await f.fd.file.closed;
    expect(f.fd.ctx.objects.size).toBe(0);
  });
});

describe('fault fd read/write/poll (catalogue 53)', () => {
  test('a triggered fault is read as one message, answered by cookie, forwarded to the driver', async () => {
    const f = await iopfFixture();
    await replace(f.fd, f.stdevId, f.iopfId);
    await expect(destroy(f.fd, f.iopfId)).rejects.toMatchObject({ errno: 'EBUSY' });
    expect(f.file.poll()).toBe(POLLOUT);
    await trigger(f);
    expect(f.file.poll()).toBe(POLLOUT | POLLIN);
    const [msg] = messages(f.file.read(SZ));
    expect(msg).toEqual({
      flags: IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE,
      dev_id: f.idevId,
      pasid: 1,
      grpid: 2,
      perm: RW,
      __reserved: 0,
      addr: 0xdeadbeafn,
      length: 0,
      cookie: 1,
    });
    expect(f.file.poll()).toBe(POLLOUT);
    expect(f.file.read(SZ)).toHaveLength(0);
    expect(f.file.write(response({ cookie: 1, code: IOMMUFD_PAGE_RESP_SUCCESS }))).toBe(8);
    expect(f.responses).toEqual([
      { dev: f.idev.dev.name, pasid: 1, grpid: 2, code: IOMMUFD_PAGE_RESP_SUCCESS },
    ]);
    // The cookie is free again.
    await trigger(f, { pasid: 0 });
    const [again] = messages(f.file.read(2 * SZ));
    expect(again).toMatchObject({ cookie: 1, flags: IOMMU_PGFAULT_FLAGS_LAST_PAGE, pasid: 0 });
  });

  test('read: ESPIPE unless a multiple of 40; EINVAL when the first group does not fit', async () => {
    const f = await iopfFixture();
    await replace(f.fd, f.stdevId, f.iopfId);
    expect(() => f.file.read(39)).toThrow(expect.objectContaining({ errno: 'ESPIPE' }));
    expect(f.file.read(0)).toHaveLength(0);
    await trigger(f);
    expect(() => f.file.read(0)).toThrow(expect.objectContaining({ errno: 'EINVAL' }));
    expect(() => f.file.read(41)).toThrow(expect.objectContaining({ errno: 'ESPIPE' }));
    expect(f.fault.queued).toBe(1);
    // A huge buffer gets what is queued.
    expect(f.file.read(SZ * 2 ** 26)).toHaveLength(SZ);
  });

  test('groups: partial requests wait for LAST_PAGE, are delivered whole and share one cookie', async () => {
    const f = await iopfFixture();
    await replace(f.fd, f.stdevId, f.iopfId);
    const req = (grpid: number, addr: bigint, lastPage: boolean) =>
      reportDeviceFault(f.idev, { pasid: undefined, grpid, perm: RW, addr, lastPage });
    req(5, 0x1000n, false);
    req(6, 0x9000n, false);
    req(5, 0x2000n, false);
    expect(f.fault.queued).toBe(0);
    req(7, 0x5000n, false);
    req(5, 0x3000n, true);
    req(7, 0x4000n, true);
    expect(f.fault.queued).toBe(2);
    expect(() => f.file.read(2 * SZ)).toThrow(expect.objectContaining({ errno: 'EINVAL' }));
    // Only whole groups: the 3-request group fits, the next one waits.
    const first = messages(f.file.read(4 * SZ));
    expect(first.map((m) => [m.grpid, m.addr, m.cookie])).toEqual([
      // The kernel inserts each partial at the list head: they come out reversed, then the last.
      [5, 0x2000n, 1],
      [5, 0x1000n, 1],
      [5, 0x3000n, 1],
    ]);
    expect(first.map((m) => m.flags)).toEqual([0, 0, IOMMU_PGFAULT_FLAGS_LAST_PAGE]);
    expect(f.fault.queued).toBe(1);
    const second = messages(f.file.read(4 * SZ));
    expect(second.map((m) => [m.grpid, m.cookie])).toEqual([
      [7, 2],
      [7, 2],
    ]);
    f.file.write(response({ cookie: 1, code: IOMMUFD_PAGE_RESP_INVALID }));
    expect(f.responses.at(-1)).toMatchObject({ pasid: undefined, grpid: 5, code: IOMMUFD_PAGE_RESP_INVALID });
    // Group 6's partial is still waiting for its last request.
    req(6, 0xa000n, true);
    expect(messages(f.file.read(2 * SZ)).map((m) => m.addr)).toEqual([0x9000n, 0xa000n]);
  });

  test('write: ESPIPE unless a multiple of 8, EINVAL for a bad code or cookie, partial progress counts', async () => {
    const f = await iopfFixture();
    await replace(f.fd, f.stdevId, f.iopfId);
    await trigger(f, { grpid: 1 });
    await trigger(f, { grpid: 2 });
    f.file.read(2 * SZ);
    expect(() => f.file.write(new Uint8Array(7))).toThrow(expect.objectContaining({ errno: 'ESPIPE' }));
    expect(() => f.file.write(response({ cookie: 1, code: 2 }))).toThrow(
      expect.objectContaining({ errno: 'EINVAL' }),
    );
    expect(() => f.file.write(response({ cookie: 9, code: 0 }))).toThrow(
      expect.objectContaining({ errno: 'EINVAL' }),
    );
    expect(f.responses).toHaveLength(0);
    expect(f.file.write(response({ cookie: 2, code: 0 }, { cookie: 9, code: 0 }))).toBe(8);
    expect(f.responses.map((r) => r.grpid)).toEqual([2]);
    expect(() => f.file.write(response({ cookie: 2, code: 0 }))).toThrow(
      expect.objectContaining({ errno: 'EINVAL' }),
    );
    expect(f.file.write(new Uint8Array(0))).toBe(0);
    expect(f.fault.awaitingResponse).toBe(1);
  });

  test('readable$ is the POLLIN level', async () => {
    const f = await iopfFixture();
    await replace(f.fd, f.stdevId, f.iopfId);
    const levels: boolean[] = [];
    const sub = f.file.readable$.subscribe((v) => levels.push(v));
    await trigger(f);
    await trigger(f, { grpid: 3 });
    f.file.read(SZ);
    f.file.read(SZ);
    sub.unsubscribe();
    expect(levels).toEqual([false, true, false]);
  });

  test('replace and detach auto-respond INVALID to the handle’s faults, read or not', async () => {
    const f = await iopfFixture();
    await replace(f.fd, f.stdevId, f.iopfId);
    await trigger(f, { grpid: 1 });
    f.file.read(SZ);
    await trigger(f, { grpid: 2 });
    await replace(f.fd, f.stdevId, f.parentId);
    expect(f.responses.map((r) => [r.grpid, r.code])).toEqual([
      [2, IOMMUFD_PAGE_RESP_INVALID],
      [1, IOMMUFD_PAGE_RESP_INVALID],
    ]);
    expect(f.fault.queued).toBe(0);
    expect(f.file.poll()).toBe(POLLOUT);
    expect(() => f.file.write(response({ cookie: 1, code: 0 }))).toThrow(
      expect.objectContaining({ errno: 'EINVAL' }),
    );
    // Detach (the device goes away) does the same.
    await replace(f.fd, f.stdevId, f.iopfId);
    await trigger(f, { grpid: 3 });
    await destroy(f.fd, f.stdevId);
    expect(f.responses.at(-1)).toMatchObject({ grpid: 3, code: IOMMUFD_PAGE_RESP_INVALID });
    expect(f.fault.queued).toBe(0);
    await destroy(f.fd, f.iopfId);
  });

  test('no fault-capable attachment: the device gets INVALID at once and nothing is queued', async () => {
    const f = await iopfFixture();
    await trigger(f);
    expect(f.fault.queued).toBe(0);
    expect(f.responses).toEqual([
      { dev: f.idev.dev.name, pasid: 1, grpid: 2, code: IOMMUFD_PAGE_RESP_INVALID },
    ]);
  });

  test('a PASID without its own attachment falls back to a nested RID domain only', async () => {
    const f = await iopfFixture();
    // A paging HWPT with the fault on the RID: a RID request is taken, a PASID one is not.
    const paging = await f.fd.ioctl('IOMMU_HWPT_ALLOC', {
      dev_id: f.idevId,
      pt_id: f.ioasId,
      flags: IOMMU_HWPT_FAULT_ID_VALID,
      fault_id: f.faultId,
    });
    await replace(f.fd, f.stdevId, paging.out_hwpt_id as number);
    await trigger(f, { pasid: 0 });
    await trigger(f, { pasid: 7 });
    expect(f.fault.queued).toBe(1);
    expect(f.responses.map((r) => r.pasid)).toEqual([7]);
    await replace(f.fd, f.stdevId, f.iopfId);
    expect(f.fault.queued).toBe(0);
    await trigger(f, { pasid: 7 });
    expect(messages(f.file.read(SZ))[0]).toMatchObject({ pasid: 7, dev_id: f.idevId });
  });

  test('TRIGGER_IOPF on a missing device is ENOENT', async () => {
    const f = await iopfFixture();
    await expect(trigger(f, { devId: f.stdevId })).rejects.toMatchObject({ errno: 'ENOENT' });
  });

  test('destroying a FAULT answers whatever is still pending', async () => {
    // Unreachable through the uAPI (HWPTs hold the fault and detach auto-responds), so directly.
    const f = await iopfFixture();
    await replace(f.fd, f.stdevId, f.iopfId);
    await trigger(f, { grpid: 1 });
    await trigger(f, { grpid: 2 });
    f.file.read(SZ);
    f.fault.destroy();
    expect(f.responses.map((r) => [r.grpid, r.code])).toEqual([
      [2, IOMMUFD_PAGE_RESP_INVALID],
      [1, IOMMUFD_PAGE_RESP_INVALID],
    ]);
    expect(f.fault.queued + f.fault.awaitingResponse).toBe(0);
  });
});
