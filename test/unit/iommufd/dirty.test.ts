/**
 * Dirty tracking (spec §2.12, §5 op 13): IOMMU_HWPT_SET_DIRTY_TRACKING, IOMMU_HWPT_GET_DIRTY_BITMAP
 * and the mock's IOMMU_TEST_OP_DIRTY, catalogue 61–66 (`iommufd_dirty_tracking`).
 */
import { describe, expect, test } from 'vitest';
import {
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
  IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_SET,
  IOMMU_TEST_IOTLB_DEFAULT,
  IOMMU_TEST_OP_DIRTY,
  IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
  type Iommufd,
  MOCK_FLAGS_DEVICE_NO_DIRTY,
  MOCK_HUGE_PAGE_SIZE,
  MOCK_IOMMUPT_HUGE,
  MOCK_PAGE_SIZE,
  type Process,
} from '../../../index.ts';
import {
  MOCK_APERTURE_START as A,
  expectErrno,
  mapFixed,
  mockDomain,
  P,
  rawIoctl,
  type Self,
  setup,
  teardown,
} from './selftest-fixture.ts';

const DIRTY = IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
const M = BigInt(MOCK_PAGE_SIZE);

async function hwptAlloc(fd: Iommufd, dev_id: number, pt_id: number, flags: number, huge = false) {
  const data = huge
    ? {
        data_type: IOMMU_HWPT_DATA_SELFTEST,
        data_uptr: { iotlb: IOMMU_TEST_IOTLB_DEFAULT, pagetable_type: MOCK_IOMMUPT_HUGE },
      }
    : {};
  return (await fd.ioctl('IOMMU_HWPT_ALLOC', { flags, dev_id, pt_id, ...data })).out_hwpt_id as number;
}

function setDirtyTracking(fd: Iommufd, hwpt_id: number, enable: boolean) {
  return fd.ioctl('IOMMU_HWPT_SET_DIRTY_TRACKING', {
    hwpt_id,
    flags: enable ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0,
  });
}

/** IOMMU_TEST_OP_DIRTY with the bits of `bitmap` placed at `uptr`. */
async function mockSetDirty(
  fd: Iommufd,
  hwptId: number,
  iova: bigint,
  length: bigint,
  pageSize: bigint,
  uptr: bigint,
): Promise<bigint> {
  const out = await fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_DIRTY,
    id: hwptId,
    dirty: { iova, length, page_size: pageSize, uptr },
  });
  return (out.dirty as { out_nr_dirty: bigint }).out_nr_dirty;
}

function getBitmap(
  fd: Iommufd,
  hwpt_id: number,
  iova: bigint,
  length: bigint,
  page_size: bigint,
  data: bigint,
  flags = 0,
) {
  return fd.ioctl('IOMMU_HWPT_GET_DIRTY_BITMAP', { hwpt_id, flags, iova, length, page_size, data });
}

function bit(proc: Process, va: bigint, i: number): boolean {
  return ((proc.read(va + BigInt(i >> 3), 1)[0]! >> (i & 7)) & 1) === 1;
}

function userBitmap(proc: Process, nbits: number): bigint {
  const bytes = Math.max(8, Math.ceil(nbits / 64) * 8);
  return proc.mmap(bytes + 2 * Number(P));
}

function setBits(proc: Process, va: bigint, nbits: number, every: number) {
  const bytes = new Uint8Array(Math.ceil(nbits / 8));
  for (let i = 0; i < nbits; i += every) bytes[i >> 3]! |= 1 << (i & 7);
  proc.write(va, bytes);
}

/**
 * The selftest's `test_mock_dirty_bitmaps`: every `pteset`-th bit marked through the mock, read
 * back (each dirty IOPTE covers `npte` bits), then read again: cleared unless NO_CLEAR.
 */
async function mockDirtyBitmaps(
  self: Self,
  hwptId: number,
  length: bigint,
  pteSize: bigint,
  bitmap: bigint,
  flags: number,
) {
  const { fd, proc } = self;
  const npte = Number(pteSize / M);
  const pteset = 2 * npte;
  const nbits = Number(length / M);
  const bytes = Math.ceil(nbits / 8);
  setBits(proc, bitmap, nbits, pteset);
  expect(await mockSetDirty(fd, hwptId, A, length, M, bitmap)).toBe(
    BigInt(Math.max(1, Math.floor(nbits / pteset))),
  );
  const expected = (keep: boolean) => {
    const out = new Uint8Array(bytes);
    if (keep) for (let i = 0; i < nbits; i++) if (i % pteset < npte) out[i >> 3]! |= 1 << (i & 7);
    return out;
  };
  proc.write(bitmap, new Uint8Array(bytes));
  await getBitmap(fd, hwptId, A, length, M, bitmap, flags);
  expect(proc.read(bitmap, bytes)).toEqual(expected(true));
  proc.write(bitmap, new Uint8Array(bytes));
  await getBitmap(fd, hwptId, A, length, M, bitmap, flags);
  expect(proc.read(bitmap, bytes)).toEqual(expected((flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) !== 0));
}

/** The `iommufd_dirty_tracking` fixture: HUGE_PAGES=0 unless huge, one mock device. */
async function dirtySelf(huge: boolean): Promise<Self> {
  const self = await setup();
  if (!huge) {
    await self.fd.ioctl('IOMMU_OPTION', {
      option_id: IOMMU_OPTION_HUGE_PAGES,
      op: IOMMU_OPTION_OP_SET,
      object_id: self.ioasId,
      val64: 0n,
    });
  }
  Object.assign(self, await mockDomain(self.fd, self.ioasId));
  return self;
}

/** A dirty-tracking HWPT on a new IOAS with `buf` mapped at A, as get_dirty_bitmap sets up. */
async function dirtyHwpt(self: Self, buf: bigint, length: bigint, huge: boolean) {
  const { fd } = self;
  const ioasId = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
  await mapFixed(fd, ioasId, buf, length, A);
  const hwptId = await hwptAlloc(fd, self.idevId, ioasId, DIRTY, huge);
  return { ioasId, hwptId };
}

const VARIANTS = [
  { name: 'domain_dirty8k', size: 8n << 10n, huge: false },
  { name: 'domain_dirty16k', size: 16n << 10n, huge: false },
  { name: 'domain_dirty64k', size: 64n << 10n, huge: false },
  { name: 'domain_dirty128k', size: 128n << 10n, huge: false },
  { name: 'domain_dirty320k', size: 320n << 10n, huge: false },
  { name: 'domain_dirty64M', size: 64n << 20n, huge: false },
  { name: 'domain_dirty4M_huge', size: 4n << 20n, huge: true },
];

describe.each(VARIANTS)('iommufd_dirty_tracking/$name', ({ size, huge }) => {
  async function withBuffer() {
    const self = await dirtySelf(huge);
    const buf = self.proc.mmap(size, { align: 1n << 21n, shared: true, hugetlb: huge });
    return { self, buf };
  }

  test('61 enforce_dirty', async () => {
    const { self } = await withBuffer();
    const { fd } = self;
    const h = await hwptAlloc(fd, self.idevId, self.ioasId, DIRTY, huge);
    await mockDomain(fd, h);
    await expectErrno(
      'EINVAL',
      fd.ioctl('IOMMU_TEST_CMD', {
        op: IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
        id: h,
        mock_domain_flags: { dev_flags: MOCK_FLAGS_DEVICE_NO_DIRTY },
      }),
    );
    const ioas2 = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
    const nd = await fd.ioctl('IOMMU_TEST_CMD', {
      op: IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
      id: ioas2,
      mock_domain_flags: { dev_flags: MOCK_FLAGS_DEVICE_NO_DIRTY },
    });
    const idev = (nd.mock_domain_flags as { out_idev_id: number }).out_idev_id;
    await expectErrno('EOPNOTSUPP', hwptAlloc(fd, idev, ioas2, DIRTY, huge));
    await teardown(self);
  });

  test('62 set_dirty_tracking', async () => {
    const { self } = await withBuffer();
    const h = await hwptAlloc(self.fd, self.idevId, self.ioasId, DIRTY, huge);
    await mockDomain(self.fd, h);
    await setDirtyTracking(self.fd, h, true);
    await setDirtyTracking(self.fd, h, false);
    await teardown(self);
  });

  test('64 device_dirty_capability', async () => {
    const { self } = await withBuffer();
    const info = await self.fd.ioctl('IOMMU_GET_HW_INFO', { dev_id: self.idevId });
    expect((info.out_capabilities as bigint) & BigInt(IOMMU_HW_CAP_DIRTY_TRACKING)).toBe(1n);
  });

  for (const [name, flags] of [
    ['65 get_dirty_bitmap', 0],
    ['66 get_dirty_bitmap_no_clear', IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR],
  ] as const) {
    test(name, async () => {
      const { self, buf } = await withBuffer();
      const { hwptId } = await dirtyHwpt(self, buf, size, huge);
      await setDirtyTracking(self.fd, hwptId, true);
      const pte = huge ? BigInt(MOCK_HUGE_PAGE_SIZE) : M;
      const nbits = Number(size / M);
      const bitmap = userBitmap(self.proc, nbits);
      await mockDirtyBitmaps(self, hwptId, size, pte, bitmap, flags);
      // A bitmap not aligned to PAGE_SIZE, then not to u64.
      await mockDirtyBitmaps(self, hwptId, size, pte, bitmap + M, flags);
      await mockDirtyBitmaps(self, hwptId, size, pte, bitmap + 0xff1n, flags);
      await self.fd.ioctl('IOMMU_DESTROY', { id: hwptId });
      await teardown(self);
    });
  }
});

describe('IOMMU_HWPT_SET_DIRTY_TRACKING errors', () => {
  test('unknown flags EOPNOTSUPP, then a non-paging ID ENOENT, then a domain without dirty ops EOPNOTSUPP', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, hwptId, ioasId } = self;
    await expectErrno('EOPNOTSUPP', fd.ioctl('IOMMU_HWPT_SET_DIRTY_TRACKING', { hwpt_id: 999, flags: 2 }));
    await expectErrno('ENOENT', setDirtyTracking(fd, ioasId, true));
    await expectErrno('ENOENT', setDirtyTracking(fd, 999, true));
    // The auto domain was allocated without IOMMU_HWPT_ALLOC_DIRTY_TRACKING.
    await expectErrno('EOPNOTSUPP', setDirtyTracking(fd, hwptId, true));
    await expectErrno('EOPNOTSUPP', setDirtyTracking(fd, hwptId, false));
  });

  test('__reserved is not checked', async () => {
    const self = await dirtySelf(false);
    const h = await hwptAlloc(self.fd, self.idevId, self.ioasId, DIRTY);
    const { ret } = await rawIoctl(self.fd, 'IOMMU_HWPT_SET_DIRTY_TRACKING', {
      hwpt_id: h,
      flags: IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
      __reserved: 5,
    });
    expect(ret).toBe(0);
  });

  test('enabling first clears the dirty bits already in the domain', async () => {
    const self = await dirtySelf(false);
    const { hwptId } = await dirtyHwpt(self, self.buffer, 4n * P, false);
    const bitmap = userBitmap(self.proc, 16);
    await setDirtyTracking(self.fd, hwptId, true);
    setBits(self.proc, bitmap, 16, 1);
    expect(await mockSetDirty(self.fd, hwptId, A, 4n * P, P, bitmap)).toBe(4n);
    await setDirtyTracking(self.fd, hwptId, false);
    // Disabling keeps the bits (NO_CLEAR read shows them) ...
    self.proc.write(bitmap, new Uint8Array(8));
    await getBitmap(self.fd, hwptId, A, 4n * P, P, bitmap, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
    expect(self.proc.read(bitmap, 1)[0]).toBe(0b1111);
    // ... enabling again wipes them.
    await setDirtyTracking(self.fd, hwptId, true);
    self.proc.write(bitmap, new Uint8Array(8));
    await getBitmap(self.fd, hwptId, A, 4n * P, P, bitmap);
    expect(self.proc.read(bitmap, 8)).toEqual(new Uint8Array(8));
  });

  test('a device write through the tracked domain shows up in the bitmap', async () => {
    const self = await dirtySelf(false);
    const { hwptId } = await dirtyHwpt(self, self.buffer, 8n * P, false);
    await mockDomain(self.fd, hwptId);
    await setDirtyTracking(self.fd, hwptId, true);
    const dev = self.host.device('mock_dev1');
    const res = await dev.dma({ op: 'write', iova: A + 3n * P + 100n, length: 8 });
    expect(res.ok).toBe(true);
    const bitmap = userBitmap(self.proc, 8);
    await getBitmap(self.fd, hwptId, A, 8n * P, P, bitmap);
    expect(self.proc.read(bitmap, 1)[0]).toBe(1 << 3);
  });
});

describe('IOMMU_HWPT_GET_DIRTY_BITMAP errors', () => {
  async function tracked() {
    const self = await dirtySelf(false);
    const { hwptId, ioasId } = await dirtyHwpt(self, self.buffer, 8n * P, false);
    await setDirtyTracking(self.fd, hwptId, true);
    const bitmap = userBitmap(self.proc, 64);
    return { self, hwptId, ioasId, bitmap };
  }

  test('flags or __reserved EOPNOTSUPP before the ID lookup', async () => {
    const { self, bitmap } = await tracked();
    await expectErrno('EOPNOTSUPP', getBitmap(self.fd, 999, A, P, P, bitmap, 2));
    await expectErrno(
      'EOPNOTSUPP',
      rawIoctl(self.fd, 'IOMMU_HWPT_GET_DIRTY_BITMAP', {
        hwpt_id: 999,
        iova: A,
        length: P,
        page_size: P,
        data: bitmap,
        __reserved: 1,
      }),
    );
  });

  test('hwpt_id must be HWPT_PAGING (ENOENT), checked before the range', async () => {
    const { self, ioasId, bitmap } = await tracked();
    await expectErrno('ENOENT', getBitmap(self.fd, ioasId, A, P, P, bitmap));
    await expectErrno('ENOENT', getBitmap(self.fd, 999, A, 0n, 0n, bitmap));
  });

  test('range checks in order: EOVERFLOW, IOAS alignment, page_size 0, page_size alignment', async () => {
    const { self, hwptId, bitmap } = await tracked();
    const { fd } = self;
    await expectErrno('EOVERFLOW', getBitmap(fd, hwptId, (1n << 64n) - P, 2n * P, 0n, bitmap));
    await expectErrno('EINVAL', getBitmap(fd, hwptId, A + 1n, P, 0n, bitmap));
    await expectErrno('EINVAL', getBitmap(fd, hwptId, A, P + 1n, P, bitmap));
    await expectErrno('EINVAL', getBitmap(fd, hwptId, A, P, 0n, bitmap));
    await expectErrno('EINVAL', getBitmap(fd, hwptId, A + M, P, P, bitmap));
    await expectErrno('EINVAL', getBitmap(fd, hwptId, A, P + M, P, bitmap));
  });

  test('a domain without dirty ops is EOPNOTSUPP after the range checks', async () => {
    const self = await setup({ mockDomain: true });
    const bitmap = userBitmap(self.proc, 8);
    await expectErrno('EINVAL', getBitmap(self.fd, self.hwptId, A, P, 0n, bitmap));
    await expectErrno('EOPNOTSUPP', getBitmap(self.fd, self.hwptId, A, P, P, bitmap));
  });

  test('a bad bitmap pointer is EFAULT', async () => {
    const { self, hwptId } = await tracked();
    await expectErrno('EFAULT', getBitmap(self.fd, hwptId, A, 8n * P, P, 0x1000n));
  });

  test('a hole is EINVAL, after the areas before it were read and cleared', async () => {
    const { self, hwptId, ioasId, bitmap } = await tracked();
    const { fd, proc } = self;
    const tmp = userBitmap(proc, 8);
    setBits(proc, tmp, 8, 1);
    expect(await mockSetDirty(fd, hwptId, A, 8n * P, P, tmp)).toBe(8n);
    await expectErrno('EINVAL', getBitmap(fd, hwptId, A, 16n * P, P, bitmap));
    expect(proc.read(bitmap, 1)[0]).toBe(0xff);
    proc.write(bitmap, new Uint8Array(8));
    await getBitmap(fd, hwptId, A, 8n * P, P, bitmap);
    expect(proc.read(bitmap, 1)[0]).toBe(0);
    // A hole at the start reads nothing.
    await expectErrno('EINVAL', getBitmap(fd, hwptId, A - P, 2n * P, P, bitmap));
    expect(ioasId).toBeGreaterThan(0);
  });

  test('bits are OR-ed into the user bitmap, never cleared there', async () => {
    const { self, hwptId, bitmap } = await tracked();
    const { fd, proc } = self;
    proc.write(bitmap, new Uint8Array([0x80, 0, 0, 0, 0, 0, 0, 0xaa]));
    const tmp = userBitmap(proc, 8);
    setBits(proc, tmp, 8, 8);
    await mockSetDirty(fd, hwptId, A, 8n * P, P, tmp);
    await getBitmap(fd, hwptId, A, 8n * P, P, bitmap);
    expect(proc.read(bitmap, 8)).toEqual(new Uint8Array([0x81, 0, 0, 0, 0, 0, 0, 0xaa]));
  });

  test('a page_size larger than the IOPTE sets the bit covering it', async () => {
    const { self, hwptId, bitmap } = await tracked();
    const { fd, proc } = self;
    const tmp = userBitmap(proc, 16);
    proc.write(tmp, new Uint8Array([0b0010_0000]));
    // Mark the 2 KiB IOPTE at A + 5*M = A + 2.5 pages.
    expect(await mockSetDirty(fd, hwptId, A, 8n * P, M, tmp)).toBe(1n);
    await getBitmap(fd, hwptId, A, 8n * P, 2n * P, bitmap);
    expect(proc.read(bitmap, 1)[0]).toBe(0b0010);
  });
});

describe('IOMMU_TEST_OP_DIRTY', () => {
  async function tracked() {
    const self = await dirtySelf(false);
    const { hwptId } = await dirtyHwpt(self, self.buffer, 4n * P, false);
    const bitmap = userBitmap(self.proc, 64);
    setBits(self.proc, bitmap, 64, 1);
    return { self, hwptId, bitmap };
  }

  test('bad parameters are EINVAL before the ID lookup', async () => {
    const { self, bitmap } = await tracked();
    const { fd } = self;
    await expectErrno('EINVAL', mockSetDirty(fd, 999, A, P, 0n, bitmap));
    await expectErrno('EINVAL', mockSetDirty(fd, 999, A, 0n, P, bitmap));
    await expectErrno('EINVAL', mockSetDirty(fd, 999, A + 1n, P, P, bitmap));
    await expectErrno('EINVAL', mockSetDirty(fd, 999, A, P + 1n, P, bitmap));
    await expectErrno('EINVAL', mockSetDirty(fd, 999, A, P, P, 0n));
    await expectErrno('ENOENT', mockSetDirty(fd, 999, A, P, P, bitmap));
  });

  test('needs a mock paging HWPT with tracking enabled', async () => {
    const { self, hwptId, bitmap } = await tracked();
    await expectErrno('ENOENT', mockSetDirty(self.fd, self.ioasId, A, P, P, bitmap));
    await expectErrno('EINVAL', mockSetDirty(self.fd, hwptId, A, P, P, bitmap));
    await setDirtyTracking(self.fd, hwptId, true);
    expect(await mockSetDirty(self.fd, hwptId, A, P, P, bitmap)).toBe(1n);
  });

  test('counts only the bits whose IOVA is mapped; an unreadable bitmap is EFAULT', async () => {
    const { self, hwptId, bitmap } = await tracked();
    await setDirtyTracking(self.fd, hwptId, true);
    expect(await mockSetDirty(self.fd, hwptId, A - 2n * P, 8n * P, P, bitmap)).toBe(4n);
    await expectErrno('EFAULT', mockSetDirty(self.fd, hwptId, A, 4n * P, P, 0x1000n));
    const out = userBitmap(self.proc, 8);
    await getBitmap(self.fd, hwptId, A, 4n * P, P, out);
    expect(bit(self.proc, out, 0) && bit(self.proc, out, 3)).toBe(true);
  });
});
