/**
 * Own cases for spec §1 / §2.1: object IDs (lowest free ≥ 1, reused after destroy, released when
 * a creation fails) and IOMMU_DESTROY (ENOENT, EBUSY with nothing changed, auto-domain lifetime).
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_VFIO_IOAS_GET,
  IOMMU_VFIO_IOAS_SET,
  MOCK_FLAGS_DEVICE_NO_DIRTY,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import {
  BUFFER_SIZE,
  closeAndCheck,
  ioasMap,
  mockDomain,
  openSelftest,
  PAGE_SIZE,
  type Selftest,
} from './helpers/fixture.ts';
import {
  APERTURE_START,
  checkMockIova,
  destroy,
  expectErrnoUnchanged,
  ioasAlloc,
  iovaRanges,
} from './helpers/more.ts';

const ids = (st: Selftest) => st.fd.ctx.liveObjects().map((o) => `${o.type}#${o.id}`);

describe('object IDs', () => {
  let self: Selftest;
  beforeEach(() => {
    self = openSelftest();
  });
  afterEach(async () => {
    await closeAndCheck(self);
  });

  test('IDs start at 1 and a mock device takes stdev, idev, auto hwpt in that order', async () => {
    expect(await ioasAlloc(self.fd)).toBe(1);
    expect(await mockDomain(self.fd, 1)).toEqual({ stdevId: 2, idevId: 3, hwptId: 4 });
    expect(ids(self)).toEqual(['IOAS#1', 'SELFTEST#2', 'DEVICE#3', 'HWPT_PAGING#4']);
    // A second device reuses the auto hwpt.
    expect(await mockDomain(self.fd, 1)).toEqual({ stdevId: 5, idevId: 6, hwptId: 4 });
  });

  test('the lowest free ID is reused after destroy', async () => {
    for (let i = 1; i <= 5; i++) expect(await ioasAlloc(self.fd)).toBe(i);
    await destroy(self.fd, 4);
    await destroy(self.fd, 2);
    expect(await ioasAlloc(self.fd)).toBe(2);
    expect(await ioasAlloc(self.fd)).toBe(4);
    expect(await ioasAlloc(self.fd)).toBe(6);
  });

  test('IOAS_ALLOC flags → EOPNOTSUPP and no ID is taken', async () => {
    await expectErrnoUnchanged(self, [], 'EOPNOTSUPP', () => self.fd.ioctl('IOMMU_IOAS_ALLOC', { flags: 1 }));
    expect(await ioasAlloc(self.fd)).toBe(1);
  });

  test('an HWPT_ALLOC the driver rejects releases the ID it reserved', async () => {
    const ioasId = await ioasAlloc(self.fd);
    const { idevId } = await mockDomain(self.fd, ioasId);
    await expectErrnoUnchanged(self, [ioasId], 'EOPNOTSUPP', () =>
      self.fd.ioctl('IOMMU_HWPT_ALLOC', {
        dev_id: idevId,
        pt_id: ioasId,
        data_type: IOMMU_HWPT_DATA_SELFTEST,
        data_uptr: { iotlb: 0, pagetable_type: 99 },
      }),
    );
    expect(await ioasAlloc(self.fd)).toBe(5);
  });

  test('an HWPT_ALLOC whose aperture hits an area (EADDRINUSE) releases its ID and reservations', async () => {
    const ioasId = await ioasAlloc(self.fd);
    const { idevId } = await mockDomain(self.fd, ioasId);
    const ioas2 = await ioasAlloc(self.fd);
    await ioasMap(self.fd, ioas2, self.buffer, PAGE_SIZE, 0n);
    await expectErrnoUnchanged(self, [ioasId, ioas2], 'EADDRINUSE', () =>
      self.fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: idevId, pt_id: ioas2 }),
    );
    expect(self.proc.mm.counters.pinnedPages).toBe(0n);
  });

  test('HWPT_ALLOC with FAULT_ID_VALID and a bad fault_id: the built HWPT is destroyed (ENOENT)', async () => {
    const ioasId = await ioasAlloc(self.fd);
    const { idevId } = await mockDomain(self.fd, ioasId);
    const ioas2 = await ioasAlloc(self.fd);
    await ioasMap(self.fd, ioas2, self.buffer, BUFFER_SIZE, APERTURE_START);
    await expectErrnoUnchanged(self, [ioasId, ioas2], 'ENOENT', () =>
      self.fd.ioctl('IOMMU_HWPT_ALLOC', {
        dev_id: idevId,
        pt_id: ioas2,
        flags: IOMMU_HWPT_FAULT_ID_VALID,
        fault_id: 0xffffffff,
      }),
    );
    // The domain was filled (pinned) and then removed: nothing stays pinned, ioas2 is domain-less.
    expect(self.proc.mm.counters.pinnedPages).toBe(0n);
    expect((await iovaRanges(self.fd, ioas2)).ranges).toEqual([{ start: 0n, last: (1n << 64n) - 1n }]);
  });

  test('a MOCK_DOMAIN whose attach fails releases the stdev and idev IDs', async () => {
    const ioasId = await ioasAlloc(self.fd);
    const { idevId } = await mockDomain(self.fd, ioasId);
    const hwpt = await self.fd.ioctl('IOMMU_HWPT_ALLOC', {
      dev_id: idevId,
      pt_id: ioasId,
      flags: IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
    });
    const hwptId = hwpt.out_hwpt_id as number;
    expect(hwptId).toBe(5);
    await expectErrnoUnchanged(self, [ioasId], 'EINVAL', () =>
      mockDomain(self.fd, hwptId, MOCK_FLAGS_DEVICE_NO_DIRTY),
    );
    expect(await ioasAlloc(self.fd)).toBe(6);
  });
});

describe('IOMMU_DESTROY', () => {
  let self: Selftest;
  beforeEach(() => {
    self = openSelftest();
  });
  afterEach(async () => {
    await closeAndCheck(self);
  });

  test('id 0, a never-used ID and an already destroyed ID → ENOENT', async () => {
    await expectErrno('ENOENT', destroy(self.fd, 0));
    await expectErrno('ENOENT', destroy(self.fd, 12345));
    const id = await ioasAlloc(self.fd);
    await expectOk(destroy(self.fd, id));
    await expectErrno('ENOENT', destroy(self.fd, id));
  });

  test('EBUSY while a HWPT uses the IOAS, and nothing changes: the IOAS and its domain still work', async () => {
    const ioasId = await ioasAlloc(self.fd);
    const md = await mockDomain(self.fd, ioasId);
    await expectErrnoUnchanged(self, [ioasId], 'EBUSY', () => destroy(self.fd, ioasId));
    const iova = await ioasMap(self.fd, ioasId, self.buffer, BUFFER_SIZE);
    await checkMockIova(self.fd, [md.hwptId], self.buffer, iova, BUFFER_SIZE);
  });

  test('a DEVICE is held by its driver (EBUSY); an auto hwpt is held by its device (EBUSY)', async () => {
    const ioasId = await ioasAlloc(self.fd);
    const md = await mockDomain(self.fd, ioasId);
    await expectErrnoUnchanged(self, [ioasId], 'EBUSY', () => destroy(self.fd, md.idevId));
    await expectErrnoUnchanged(self, [ioasId], 'EBUSY', () => destroy(self.fd, md.hwptId));
    // The auto-domain dies with its last device: its ID is then ENOENT, and the IOAS is free.
    await expectOk(destroy(self.fd, md.stdevId));
    expect(ids(self)).toEqual(['IOAS#1']);
    await expectErrno('ENOENT', destroy(self.fd, md.hwptId));
    await expectErrno('ENOENT', destroy(self.fd, md.idevId));
    await expectOk(destroy(self.fd, ioasId));
  });

  test('an explicitly allocated HWPT survives detach and holds its IOAS until destroyed', async () => {
    const ioasId = await ioasAlloc(self.fd);
    const md = await mockDomain(self.fd, ioasId);
    const hwptId = (await self.fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: md.idevId, pt_id: ioasId }))
      .out_hwpt_id as number;
    const md2 = await mockDomain(self.fd, hwptId);
    expect(md2.hwptId).toBe(hwptId);
    await expectErrno('EBUSY', destroy(self.fd, hwptId));
    await expectOk(destroy(self.fd, md2.stdevId));
    await expectOk(destroy(self.fd, md.stdevId));
    await expectErrno('EBUSY', destroy(self.fd, ioasId));
    await expectOk(destroy(self.fd, hwptId));
    await expectOk(destroy(self.fd, ioasId));
    expect(ids(self)).toEqual([]);
  });

  test('areas never block destroy; destroying an IOAS unmaps and unpins them', async () => {
    const ioasId = await ioasAlloc(self.fd);
    const md = await mockDomain(self.fd, ioasId);
    await ioasMap(self.fd, ioasId, self.buffer, BUFFER_SIZE);
    expect(self.proc.mm.counters.pinnedPages).toBe(BUFFER_SIZE / PAGE_SIZE);
    await destroy(self.fd, md.stdevId);
    expect(self.proc.mm.counters.pinnedPages).toBe(0n);
    await ioasMap(self.fd, ioasId, self.buffer, BUFFER_SIZE);
    await expectOk(destroy(self.fd, ioasId));
  });

  test('destroying the VFIO compat IOAS clears it', async () => {
    const ioasId = await ioasAlloc(self.fd);
    await expectOk(self.fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_SET, ioas_id: ioasId }));
    await destroy(self.fd, ioasId);
    await expectErrno('ENODEV', self.fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_GET }));
    // A new IOAS reusing the ID is not the compat IOAS.
    expect(await ioasAlloc(self.fd)).toBe(ioasId);
    await expectErrno('ENODEV', self.fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_GET }));
  });
});
