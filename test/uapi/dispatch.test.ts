/**
 * Own cases for spec §2.0 (`iommufd_fops_ioctl`): the order VFIO-compat routing → get_user(size)
 * → slot check → min_size → copy_struct_from_user → execute → copy-back, with raw structs laid
 * out by hand in the process's memory.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  _IO,
  createFarm,
  IOCTL_TABLE,
  IOMMU_DESTROY,
  IOMMU_HWPT_ALLOC,
  IOMMU_IOAS_ALLOC,
  IOMMU_TEST_CMD,
  IOMMUFD_TYPE,
  iommu_destroy,
  iommu_hwpt_alloc,
  iommu_ioas_alloc,
  PROT_READ,
  VFIO_IOMMU_DIRTY_PAGES,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { closeAndCheck, mockDomain, openSelftest, PAGE_SIZE, type Selftest } from './helpers/fixture.ts';
import { beforeGuardPage, ioasAlloc, place, snapshot } from './helpers/more.ts';

/** `_IOC(dir, type, nr, size)` with direction and size bits, which iommufd never uses. */
const IOWR = (nr: number, size: number) => (3 * 2 ** 30 + size * 2 ** 16 + (IOMMUFD_TYPE << 8) + nr) >>> 0;

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

describe('ioctl dispatch (§2.0)', () => {
  let self: Selftest;
  beforeEach(() => {
    self = openSelftest();
  });
  afterEach(async () => {
    await closeAndCheck(self);
  });

  test('every command is _IO(";", nr) and reads size before anything else: NULL → EFAULT', async () => {
    for (const entry of IOCTL_TABLE) {
      expect(entry.cmd, entry.name).toBe(_IO(IOMMUFD_TYPE, entry.nr));
      await expectErrno('EFAULT', () => self.fd.ioctlRaw(entry.cmd, null));
      await expectErrno('EFAULT', () => self.fd.ioctlRaw(entry.cmd, 0x10n));
    }
  });

  test('size < min_size → EINVAL, for every ioctl, even size 0', async () => {
    for (const entry of IOCTL_TABLE) {
      const bytes = new Uint8Array(entry.layout.sizeof);
      const va = place(self.proc, bytes);
      for (const size of [0, entry.minSize - 1]) {
        self.proc.write(va, u32(size));
        await expectErrno('EINVAL', () => self.fd.ioctlRaw(entry.cmd, va));
      }
    }
    expect(self.fd.ctx.liveObjects()).toEqual([]);
  });

  test('size > sizeof with a non-zero tail → E2BIG before anything executes', async () => {
    for (const entry of IOCTL_TABLE) {
      const n = entry.layout.sizeof;
      for (const at of [n, n + 7, n + 4096]) {
        const bytes = new Uint8Array(n + 4097);
        bytes.set(u32(at + 1), 0);
        bytes[at] = 1;
        const va = place(self.proc, bytes);
        await expectErrno('E2BIG', () => self.fd.ioctlRaw(entry.cmd, va));
      }
    }
    // IOMMU_IOAS_ALLOC with a dirty tail must not have created anything.
    expect(self.fd.ctx.liveObjects()).toEqual([]);
  });

  test('size > sizeof with an all-zero tail acts as sizeof, and only sizeof bytes are copied back', async () => {
    const n = iommu_ioas_alloc.sizeof;
    const bytes = new Uint8Array(n + 64).fill(0);
    bytes.set(u32(n + 64), 0);
    const va = place(self.proc, bytes);
    await expectOk(() => self.fd.ioctlRaw(IOMMU_IOAS_ALLOC, va));
    const out = self.proc.read(va, n + 64);
    expect(iommu_ioas_alloc.decode(out).out_ioas_id).toBe(1);
    expect(out.subarray(n).every((b) => b === 0)).toBe(true);
    // And a zero-tailed DESTROY executes: it is ENOENT now, not E2BIG.
    const d = place(self.proc, new Uint8Array(64));
    self.proc.write(d, iommu_destroy.encode({ size: 64, id: 7 }));
    await expectErrno('ENOENT', () => self.fd.ioctlRaw(IOMMU_DESTROY, d));
  });

  test('a tail that runs into unmapped memory → EFAULT', async () => {
    const va = beforeGuardPage(self.proc, 8n);
    self.proc.write(va, iommu_destroy.encode({ size: 16, id: 0 }));
    await expectErrno('EFAULT', () => self.fd.ioctlRaw(IOMMU_DESTROY, va));
    self.proc.write(va, u32(8));
    await expectErrno('ENOENT', () => self.fd.ioctlRaw(IOMMU_DESTROY, va));
  });

  test('size < sizeof: the kernel ignores (zero-fills) what lies past size, and writes back only size bytes', async () => {
    const ioasId = await ioasAlloc(self.fd);
    const { idevId } = await mockDomain(self.fd, ioasId);
    const full = iommu_hwpt_alloc.encode({
      size: iommu_hwpt_alloc.offsetofend('__reserved'),
      dev_id: idevId,
      pt_id: ioasId,
      out_hwpt_id: 0xffffffff,
      // Past min_size: garbage that would be EINVAL/EFAULT if the kernel read it.
      data_type: 0xdead,
      data_len: 8,
      data_uptr: 0x10n,
      fault_id: 0x77,
    });
    const va = place(self.proc, full);
    await expectOk(() => self.fd.ioctlRaw(IOMMU_HWPT_ALLOC, va));
    const out = self.proc.read(va, full.length);
    const hwptId = iommu_hwpt_alloc.decode(out).out_hwpt_id;
    expect(self.fd.ctx.objects.tryGet(hwptId)?.type).toBe('HWPT_PAGING');
    expect(out.subarray(24)).toEqual(full.subarray(24));
  });

  test('unused slots inside 0x80..0xa0 read size first: NULL → EFAULT, else ENOTTY (not EINVAL)', async () => {
    const va = place(self.proc, new Uint8Array(8));
    const last = Math.max(...IOCTL_TABLE.filter((e) => e.name !== 'IOMMU_TEST_CMD').map((e) => e.nr));
    for (let nr = last + 1; nr < 0xa0; nr++) {
      const cmd = _IO(IOMMUFD_TYPE, nr);
      await expectErrno('EFAULT', () => self.fd.ioctlRaw(cmd, null));
      await expectErrno('ENOTTY', () => self.fd.ioctlRaw(cmd, va));
    }
  });

  test('a known nr with another type byte or with size/direction bits → ENOTTY after the size read', async () => {
    const va = place(self.proc, iommu_destroy.encode({ size: 8, id: 0 }));
    for (const cmd of [(0x3c << 8) | 0x80, IOWR(0x80, 8), (0xff << 8) | 0x81]) {
      await expectErrno('EFAULT', () => self.fd.ioctlRaw(cmd, null));
      await expectErrno('ENOTTY', () => self.fd.ioctlRaw(cmd, va));
    }
  });

  test('nr < 0x80 and nr past the table go to VFIO compat: ENOTTY without reading the argument', async () => {
    for (const cmd of [
      _IO(IOMMUFD_TYPE, 0x7f),
      _IO(IOMMUFD_TYPE, 0),
      _IO(IOMMUFD_TYPE, 0xa1),
      _IO(0x3b, 0xff),
    ]) {
      await expectErrno('ENOTTY', () => self.fd.ioctlRaw(cmd, null));
    }
    await expectErrno('ENOTTY', () => self.fd.ioctlRaw(VFIO_IOMMU_DIRTY_PAGES, null));
  });

  test('without CONFIG_IOMMUFD_TEST the table ends at 0x94: 0x95..0xa0 are VFIO compat (ENOTTY even for NULL)', async () => {
    const farm = createFarm({ seed: 2 });
    const proc = farm.addHost({ name: 'prod', selftest: false }).spawnProcess({ name: 'p' });
    const fd = proc.openIommufd();
    for (let nr = 0x95; nr <= 0xa0; nr++) {
      await expectErrno('ENOTTY', () => fd.ioctlRaw(_IO(IOMMUFD_TYPE, nr), null));
    }
    await expectErrno('ENOTTY', () => fd.ioctlRaw(IOMMU_TEST_CMD, null));
    await expectErrno('EFAULT', () => fd.ioctlRaw(IOMMU_DESTROY, null));
    await fd.close();
  });

  test('a failed copy-back is EFAULT and aborts the object being created (its ID is free again)', async () => {
    const before = await snapshot(self, []);
    const mfd = self.proc.memfd(PAGE_SIZE);
    const rw = self.proc.mmap(PAGE_SIZE, { fd: mfd, shared: true });
    self.proc.write(rw, iommu_ioas_alloc.encode({ size: iommu_ioas_alloc.sizeof }));
    const ro = self.proc.mmap(PAGE_SIZE, { fd: mfd, shared: true, prot: PROT_READ });
    await expectErrno('EFAULT', () => self.fd.ioctlRaw(IOMMU_IOAS_ALLOC, ro));
    expect(await snapshot(self, [])).toEqual(before);
    await expectOk(() => self.fd.ioctlRaw(IOMMU_IOAS_ALLOC, rw));
    expect(iommu_ioas_alloc.decode(self.proc.read(rw, 12)).out_ioas_id).toBe(1);
    self.proc.close(mfd);
  });

  test('success returns 0', async () => {
    const va = place(self.proc, iommu_ioas_alloc.encode({ size: iommu_ioas_alloc.sizeof }));
    expect(await self.fd.ioctlRaw(IOMMU_IOAS_ALLOC, va)).toBe(0);
  });
});
