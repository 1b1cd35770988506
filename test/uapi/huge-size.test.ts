/**
 * A typed call with a huge `size`/`argsz` behaves as a C caller whose larger struct is zeroed:
 * the kernel copies min(size, sizeof) and checks the tail lazily (copy_struct_from_user), so the
 * result matches the raw call and costs memory bounded by the struct, not by `size`.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_IOAS_ALLOC,
  iommu_ioas_alloc,
  VFIO_DEVICE_BIND_IOMMUFD,
  vfio_device_bind_iommufd,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { closeAndCheck, openSelftest, type Selftest } from './helpers/fixture.ts';

const HUGE = 0xffffffff;
/** Frames a call may allocate: its scratch block, the struct's page and the kernel's objects. */
const FRAME_BUDGET = 32;

describe('typed calls with a huge size (issue 12, finding 4)', () => {
  let self: Selftest;
  beforeEach(() => {
    self = openSelftest();
  });
  afterEach(async () => {
    await closeAndCheck(self);
  });

  const frames = () => self.host.phys.stats().allocatedFrames;

  /** The raw call as C makes it: a zeroed `size`-byte buffer with the struct at its start. */
  function zeroedBuffer(struct: Uint8Array, size: number): bigint {
    const va = self.proc.mmap(BigInt(size));
    self.proc.write(va, struct);
    return va;
  }

  test('IOMMU_IOAS_ALLOC size 0xffffffff: raw and typed both succeed, touching a bounded number of frames', async () => {
    const before = frames();
    const rawVa = zeroedBuffer(iommu_ioas_alloc.encode({ size: HUGE }), HUGE);
    await expectOk(self.fd.ioctlRaw(IOMMU_IOAS_ALLOC, rawVa));
    const rawId = iommu_ioas_alloc.decode(self.proc.read(rawVa, iommu_ioas_alloc.sizeof)).out_ioas_id;
    self.proc.munmap(rawVa, BigInt(HUGE));
    const afterRaw = frames();

    const typed = await expectOk(self.fd.ioctl('IOMMU_IOAS_ALLOC', { size: HUGE }));
    expect(typed.out_ioas_id).toBe(rawId + 1);
    expect(afterRaw - before).toBeLessThan(FRAME_BUDGET);
    expect(frames() - afterRaw).toBeLessThan(FRAME_BUDGET);
  });

  test('a non-zero byte deep in the tail is E2BIG; a tail running into a hole is EFAULT, as the kernel scans', async () => {
    const va = zeroedBuffer(iommu_ioas_alloc.encode({ size: HUGE }), HUGE);
    self.proc.write(va + (1n << 30n), Uint8Array.of(1));
    await expectErrno('E2BIG', () => self.fd.ioctlRaw(IOMMU_IOAS_ALLOC, va));
    self.proc.munmap(va, BigInt(HUGE));

    // Only the struct's page is mapped: the scan reaches unmapped memory first.
    const short = zeroedBuffer(iommu_ioas_alloc.encode({ size: HUGE }), 4096);
    const before = frames();
    await expectErrno('EFAULT', () => self.fd.ioctlRaw(IOMMU_IOAS_ALLOC, short));
    expect(frames() - before).toBeLessThan(FRAME_BUDGET);
  });

  test('a negative size is its u32 bit pattern, as in C', async () => {
    const typed = await expectOk(self.fd.ioctl('IOMMU_IOAS_ALLOC', { size: -1 }));
    expect(typed.out_ioas_id).toBeGreaterThan(0);
  });

  test('VFIO_DEVICE_BIND_IOMMUFD argsz 0xffffffff: raw and typed bind alike, with bounded memory', async () => {
    self.host.addDevice({ name: 'nic0', iommu: 'mock', bdf: '0000:05:00.0' });
    self.host.addDevice({ name: 'nic1', iommu: 'mock', bdf: '0000:06:00.0' });
    const raw = self.proc.openVfioDevice('nic0');
    const typed = self.proc.openVfioDevice('nic1');
    const before = frames();
    const va = zeroedBuffer(vfio_device_bind_iommufd.encode({ argsz: HUGE, iommufd: self.fd.fd }), HUGE);
    await expectOk(raw.ioctlRaw(VFIO_DEVICE_BIND_IOMMUFD, va));
    const rawDevid = vfio_device_bind_iommufd.decode(
      self.proc.read(va, vfio_device_bind_iommufd.sizeof),
    ).out_devid;
    self.proc.munmap(va, BigInt(HUGE));
    const out = await expectOk(typed.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { argsz: HUGE, iommufd: self.fd.fd }));
    expect(out.out_devid).toBe(rawDevid + 1);
    expect(frames() - before).toBeLessThan(FRAME_BUDGET);
    await raw.close();
    await typed.close();
  });
});
