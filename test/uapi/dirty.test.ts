/**
 * Selftest catalogue §6 "Dirty tracking" (61–66) on FIXTURE iommufd_dirty_tracking × every buffer
 * size, and own cases for IOMMU_HWPT_SET_DIRTY_TRACKING / IOMMU_HWPT_GET_DIRTY_BITMAP (§2.12).
 * The 64M/128M buffers are never written: the farm's memory stays lazy, only pinning touches it.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
  IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_SET,
  IOMMU_TEST_OP_DIRTY,
  type Iommufd,
  MOCK_FLAGS_DEVICE_NO_DIRTY,
  MOCK_HUGE_PAGE_SIZE,
  MOCK_IOMMUPT_HUGE,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import {
  closeAndCheck,
  HUGEPAGE_SIZE,
  ioasMap,
  type MockDomain,
  mockDomain,
  openSelftest,
  PAGE_SIZE,
  type Selftest,
} from './helpers/fixture.ts';
import { APERTURE_START, destroy, ioasAlloc, MOCK_PGSIZE, option, rawCall, U64_MAX } from './helpers/more.ts';

const K = 1024n;
const M = 1024n * K;

interface DirtyVariant {
  readonly name: string;
  readonly bufferSize: bigint;
  readonly hugepages: boolean;
}

const VARIANTS: readonly DirtyVariant[] = [
  { name: 'domain_dirty8k', bufferSize: 8n * K, hugepages: false },
  { name: 'domain_dirty16k', bufferSize: 16n * K, hugepages: false },
  { name: 'domain_dirty64k', bufferSize: 64n * K, hugepages: false },
  { name: 'domain_dirty128k', bufferSize: 128n * K, hugepages: false },
  { name: 'domain_dirty320k', bufferSize: 320n * K, hugepages: false },
  { name: 'domain_dirty64M', bufferSize: 64n * M, hugepages: false },
  { name: 'domain_dirty64M_huge', bufferSize: 64n * M, hugepages: true },
  { name: 'domain_dirty128M', bufferSize: 128n * M, hugepages: false },
  { name: 'domain_dirty128M_huge', bufferSize: 128n * M, hugepages: true },
];

interface DirtySelf extends Selftest {
  dirtyBuffer: bigint;
  /** Bits in the bitmap: buffer_size / MOCK_PAGE_SIZE. */
  nbits: number;
  /** DIV_ROUND_UP(nbits, 8) + PAGE_SIZE bytes, page aligned, for the unaligned-bitmap cases. */
  bitmap: bigint;
  ioasId: number;
  md: MockDomain;
}

/** FIXTURE_SETUP(iommufd_dirty_tracking). */
async function setupDirty(variant: DirtyVariant): Promise<DirtySelf> {
  const st = openSelftest();
  const size = variant.hugepages && variant.bufferSize < HUGEPAGE_SIZE ? HUGEPAGE_SIZE : variant.bufferSize;
  const dirtyBuffer = st.proc.mmap(size, { align: HUGEPAGE_SIZE, shared: true, hugetlb: variant.hugepages });
  const nbits = Number(variant.bufferSize / MOCK_PGSIZE);
  const bitmap = st.proc.mmap(BigInt(Math.ceil(nbits / 8)) + PAGE_SIZE, { align: PAGE_SIZE });
  const ioasId = await ioasAlloc(st.fd);
  // The page size fed to the IOMMU must match what the dirty logic expects.
  if (!variant.hugepages) {
    await option(st.fd, {
      option_id: IOMMU_OPTION_HUGE_PAGES,
      op: IOMMU_OPTION_OP_SET,
      object_id: ioasId,
      val64: 0n,
    });
  }
  const md = await mockDomain(st.fd, ioasId);
  return { ...st, dirtyBuffer, nbits, bitmap, ioasId, md };
}

async function hwptAlloc(fd: Iommufd, devId: number, ptId: number, flags: number, pagetable?: number) {
  const data =
    pagetable === undefined
      ? {}
      : { data_type: IOMMU_HWPT_DATA_SELFTEST, data_uptr: { iotlb: 0, pagetable_type: pagetable } };
  return (await fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: devId, pt_id: ptId, flags, ...data }))
    .out_hwpt_id as number;
}

const setDirtyTracking = (fd: Iommufd, hwptId: number, enable: boolean) =>
  fd.ioctl('IOMMU_HWPT_SET_DIRTY_TRACKING', {
    hwpt_id: hwptId,
    flags: enable ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0,
  });

const getDirtyBitmap = (
  fd: Iommufd,
  f: { hwptId: number; iova: bigint; length: bigint; pageSize: bigint; data: bigint; flags?: number },
) =>
  fd.ioctl('IOMMU_HWPT_GET_DIRTY_BITMAP', {
    hwpt_id: f.hwptId,
    iova: f.iova,
    length: f.length,
    page_size: f.pageSize,
    data: f.data,
    flags: f.flags ?? 0,
  });

/** `test_cmd_mock_domain_set_dirty`: IOMMU_TEST_OP_DIRTY; resolves to out_nr_dirty. */
async function mockSetDirty(
  fd: Iommufd,
  hwptId: number,
  f: { iova: bigint; length: bigint; pageSize: bigint; uptr: bigint },
) {
  const out = await fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_DIRTY,
    id: hwptId,
    dirty: { iova: f.iova, length: f.length, page_size: f.pageSize, uptr: f.uptr },
  });
  return (out.dirty as { out_nr_dirty: bigint }).out_nr_dirty;
}

const testBit = (bytes: Uint8Array, i: number) => ((bytes[i >> 3]! >> (i & 7)) & 1) === 1;

/**
 * `_test_mock_dirty_bitmaps`: mark every other IOPTE dirty through the mock, read the bitmap (every
 * bit of a dirty IOPTE set), read again (clear unless NO_CLEAR).
 */
async function testMockDirtyBitmaps(
  self: DirtySelf,
  hwptId: number,
  length: bigint,
  pageSize: bigint,
  ptePageSize: bigint,
  bitmap: bigint,
  flags: number,
) {
  const { fd, proc, nbits } = self;
  const npte = Number(ptePageSize / pageSize);
  const pteset = 2 * npte;
  const nr = Math.floor(nbits / pteset) || 1;
  const bytes = Math.ceil(nbits / 8);
  const marks = new Uint8Array(bytes);
  for (let i = 0; i < nbits; i += pteset) marks[i >> 3]! |= 1 << (i & 7);
  proc.write(bitmap, marks);
  expect(await mockSetDirty(fd, hwptId, { iova: APERTURE_START, length, pageSize, uptr: bitmap })).toBe(
    BigInt(nr),
  );

  const read = async () => {
    proc.write(bitmap, new Uint8Array(bytes));
    await expectOk(
      getDirtyBitmap(fd, { hwptId, iova: APERTURE_START, length, pageSize, data: bitmap, flags }),
    );
    return proc.read(bitmap, bytes);
  };
  const wrong = (got: Uint8Array, want: (j: number) => boolean) => {
    for (let i = 0; i < nbits; i += pteset) {
      for (let j = 0; j < pteset && i + j < nbits; j++) if (testBit(got, i + j) !== want(j)) return i + j;
    }
    return -1;
  };
  // Expect every bit of each even IOPTE dirty in the user bitmap.
  expect(wrong(await read(), (j) => j < npte)).toBe(-1);
  // It was read already: all zero, unless NO_CLEAR.
  const noClear = (flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) !== 0;
  expect(wrong(await read(), (j) => j < npte && noClear)).toBe(-1);
}

describe.each(VARIANTS)('iommufd_dirty_tracking.$name', (variant) => {
  let self: DirtySelf;
  beforeEach(async () => {
    self = await setupDirty(variant);
  });
  afterEach(async () => {
    await closeAndCheck(self);
  });

  test('enforce_dirty (61)', async () => {
    const { fd, md, ioasId } = self;
    const hwptId = await expectOk(hwptAlloc(fd, md.idevId, ioasId, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
    const dev = await expectOk(mockDomain(fd, hwptId));
    await expectErrno('EINVAL', mockDomain(fd, hwptId, MOCK_FLAGS_DEVICE_NO_DIRTY));
    await expectOk(destroy(fd, dev.stdevId));
    await expectOk(destroy(fd, hwptId));
    // An IOMMU device that does not support dirty tracking.
    const ioas2 = await ioasAlloc(fd);
    const noDirty = await expectOk(mockDomain(fd, ioas2, MOCK_FLAGS_DEVICE_NO_DIRTY));
    await expectErrno('EOPNOTSUPP', hwptAlloc(fd, noDirty.idevId, ioas2, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
    await expectOk(destroy(fd, noDirty.stdevId));
  });

  test('set_dirty_tracking (62)', async () => {
    const { fd, md, ioasId } = self;
    const hwptId = await expectOk(hwptAlloc(fd, md.idevId, ioasId, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
    const dev = await expectOk(mockDomain(fd, hwptId));
    await expectOk(setDirtyTracking(fd, hwptId, true));
    await expectOk(setDirtyTracking(fd, hwptId, false));
    await expectOk(destroy(fd, dev.stdevId));
    await expectOk(destroy(fd, hwptId));
  });

  test('device_dirty_capability (64)', async () => {
    const { fd, md, ioasId } = self;
    const hwptId = await expectOk(hwptAlloc(fd, md.idevId, ioasId, 0));
    const dev = await expectOk(mockDomain(fd, hwptId));
    const info = await expectOk(fd.ioctl('IOMMU_GET_HW_INFO', { dev_id: md.idevId }));
    expect((info.out_capabilities as bigint) & BigInt(IOMMU_HW_CAP_DIRTY_TRACKING)).toBe(
      BigInt(IOMMU_HW_CAP_DIRTY_TRACKING),
    );
    await expectOk(destroy(fd, dev.stdevId));
    await expectOk(destroy(fd, hwptId));
  });

  for (const [name, flags] of [
    ['get_dirty_bitmap (65)', 0],
    ['get_dirty_bitmap_no_clear (66)', IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR],
  ] as const) {
    test(name, async () => {
      const { fd, md, ioasId, dirtyBuffer, bitmap } = self;
      const pteSize = variant.hugepages ? BigInt(MOCK_HUGE_PAGE_SIZE) : MOCK_PGSIZE;
      await expectOk(ioasMap(fd, ioasId, dirtyBuffer, variant.bufferSize, APERTURE_START));
      const hwptId = await expectOk(
        hwptAlloc(
          fd,
          md.idevId,
          ioasId,
          IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
          variant.hugepages ? MOCK_IOMMUPT_HUGE : undefined,
        ),
      );
      await expectOk(setDirtyTracking(fd, hwptId, true));
      const run = (at: bigint) =>
        testMockDirtyBitmaps(self, hwptId, variant.bufferSize, MOCK_PGSIZE, pteSize, at, flags);
      await run(bitmap);
      // PAGE_SIZE unaligned bitmap.
      await run(bitmap + MOCK_PGSIZE);
      // u64 unaligned bitmap.
      await run(bitmap + 0xff1n);
      await expectOk(destroy(fd, hwptId));
    });
  }
});

describe('IOMMU_HWPT_SET_DIRTY_TRACKING / GET_DIRTY_BITMAP rules (§2.12)', () => {
  let self: DirtySelf;
  let dirtyHwpt: number;
  beforeEach(async () => {
    self = await setupDirty(VARIANTS[3]!);
    await ioasMap(self.fd, self.ioasId, self.dirtyBuffer, 128n * K, APERTURE_START);
    dirtyHwpt = await hwptAlloc(self.fd, self.md.idevId, self.ioasId, IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
  });
  afterEach(async () => {
    await closeAndCheck(self);
  });
  const get = (
    f: Partial<{ hwptId: number; iova: bigint; length: bigint; pageSize: bigint; flags: number }>,
  ) =>
    getDirtyBitmap(self.fd, {
      hwptId: dirtyHwpt,
      iova: APERTURE_START,
      length: 8n * PAGE_SIZE,
      pageSize: PAGE_SIZE,
      data: self.bitmap,
      ...f,
    });

  test('SET_DIRTY_TRACKING: flags → EOPNOTSUPP first; non-paging ID → ENOENT; no dirty ops → EOPNOTSUPP', async () => {
    const { fd, ioasId, md } = self;
    await expectErrno('EOPNOTSUPP', fd.ioctl('IOMMU_HWPT_SET_DIRTY_TRACKING', { hwpt_id: 0, flags: 2 }));
    await expectErrno('ENOENT', setDirtyTracking(fd, 0, true));
    await expectErrno('ENOENT', setDirtyTracking(fd, ioasId, true));
    await expectErrno('ENOENT', setDirtyTracking(fd, md.idevId, true));
    // The auto-domain was allocated without DIRTY_TRACKING.
    await expectErrno('EOPNOTSUPP', setDirtyTracking(fd, md.hwptId, true));
    // __reserved is not checked.
    await expectOk(
      rawCall(fd, 'IOMMU_HWPT_SET_DIRTY_TRACKING', {
        hwpt_id: dirtyHwpt,
        flags: IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
        __reserved: 1,
      }),
    );
  });

  test('IOMMU_TEST_OP_DIRTY needs tracking on; enabling clears what was dirty before', async () => {
    const { fd, proc, bitmap } = self;
    const all = { iova: APERTURE_START, length: 128n * K, pageSize: MOCK_PGSIZE, uptr: bitmap };
    proc.write(bitmap, new Uint8Array(8).fill(0xff));
    await expectErrno('EINVAL', mockSetDirty(fd, dirtyHwpt, all));
    await setDirtyTracking(fd, dirtyHwpt, true);
    expect(await mockSetDirty(fd, dirtyHwpt, all)).toBe(64n);
    await setDirtyTracking(fd, dirtyHwpt, false);
    await setDirtyTracking(fd, dirtyHwpt, true);
    // The kernel only sets bits in the user bitmap, so start from zero as the selftest does.
    proc.write(bitmap, new Uint8Array(8));
    await expectOk(get({ length: 128n * K, pageSize: MOCK_PGSIZE }));
    expect(proc.read(bitmap, 8)).toEqual(new Uint8Array(8));
    // Whereas without the re-enable the marks are reported.
    proc.write(bitmap, new Uint8Array(8).fill(0xff));
    expect(await mockSetDirty(fd, dirtyHwpt, all)).toBe(64n);
    proc.write(bitmap, new Uint8Array(8));
    await expectOk(get({ length: 128n * K, pageSize: MOCK_PGSIZE }));
    expect(proc.read(bitmap, 8)).toEqual(new Uint8Array(8).fill(0xff));
  });

  test('GET_DIRTY_BITMAP check order: flags/__reserved, hwpt, overflow, alignment, page_size, dirty ops', async () => {
    const { fd, md, ioasId } = self;
    await expectErrno('EOPNOTSUPP', get({ hwptId: 0, flags: 2 }));
    await expectErrno(
      'EOPNOTSUPP',
      rawCall(fd, 'IOMMU_HWPT_GET_DIRTY_BITMAP', { hwpt_id: 0, __reserved: 1 }),
    );
    await expectErrno('ENOENT', get({ hwptId: ioasId }));
    await expectErrno('ENOENT', get({ hwptId: 0 }));
    // Overflow wins over misalignment.
    await expectErrno('EOVERFLOW', get({ iova: U64_MAX - MOCK_PGSIZE + 1n, length: PAGE_SIZE }));
    // HUGE_PAGES=0: the IOAS alignment is PAGE_SIZE; both ends must honour it.
    await expectErrno('EINVAL', get({ iova: APERTURE_START + MOCK_PGSIZE, pageSize: MOCK_PGSIZE }));
    await expectErrno('EINVAL', get({ length: PAGE_SIZE + MOCK_PGSIZE, pageSize: MOCK_PGSIZE }));
    await expectErrno('EINVAL', get({ pageSize: 0n }));
    await expectErrno('EINVAL', get({ iova: APERTURE_START + PAGE_SIZE, pageSize: 2n * PAGE_SIZE }));
    await expectErrno('EINVAL', get({ length: 3n * PAGE_SIZE, pageSize: 2n * PAGE_SIZE }));
    // Range checks come before the domain's lack of dirty ops.
    await expectErrno('EINVAL', get({ hwptId: md.hwptId, pageSize: 0n }));
    await expectErrno('EOPNOTSUPP', get({ hwptId: md.hwptId }));
    await expectOk(get({}));
  });
});
