/**
 * Selftest catalogue §6 iova_ranges (31–33) on FIXTURE iommufd_ioas × variants, and own cases for
 * IOMMU_IOAS_IOVA_RANGES (§2.3) and IOMMU_IOAS_ALLOW_IOVAS (§2.4): check order, atomicity, and
 * reservations that collide with allowed ranges or areas.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_IOAS_IOVA_RANGES,
  type IommufdError,
  iommu_ioas_iova_ranges,
  MOCK_APERTURE_LAST,
  MOCK_APERTURE_START,
  MOCK_PAGE_SIZE,
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
  addReserved,
  allowIovas,
  beforeGuardPage,
  decodeRanges,
  encodeRanges,
  expectErrnoUnchanged,
  IOAS_VARIANTS,
  ioasAlloc,
  iovaRanges,
  place,
  type Range,
  rawCall,
  SIZE_MAX,
  useIoasFixture,
} from './helpers/more.ts';

const P = PAGE_SIZE;
const BAD_VA = 0x10n;

describe.each(IOAS_VARIANTS)('iommufd_ioas.$name iova_ranges', (variant) => {
  const self = useIoasFixture(variant);

  test('iova_ranges (31–33)', async () => {
    const { fd, proc, ioasId, buffer, stdevId } = self();
    const ranges = () => decodeRanges(proc.read(buffer, 32));
    const call = (num_iovas: number) =>
      fd.ioctl('IOMMU_IOAS_IOVA_RANGES', { ioas_id: ioasId, num_iovas, allowed_iovas: buffer });
    const clear = () => proc.write(buffer, new Uint8Array(Number(BUFFER_SIZE)));

    // 31: the range can be read.
    let out = await expectOk(call(Number(BUFFER_SIZE / 16n)));
    expect(out.num_iovas).toBe(1);
    if (!stdevId) {
      expect(ranges()[0]).toEqual({ start: 0n, last: SIZE_MAX });
      expect(out.out_iova_alignment).toBe(1n);
    } else {
      expect(ranges()[0]).toEqual({ start: BigInt(MOCK_APERTURE_START), last: BigInt(MOCK_APERTURE_LAST) });
      expect(out.out_iova_alignment).toBe(BigInt(MOCK_PAGE_SIZE));
    }

    // 32: buffer too small.
    clear();
    let err: IommufdError = await expectErrno('EMSGSIZE', call(0));
    expect(err.out?.num_iovas).toBe(1);
    expect(ranges()[0]).toEqual({ start: 0n, last: 0n });

    // 33: two ranges.
    await expectOk(addReserved(fd, ioasId, P, P));
    out = await expectOk(call(Number(BUFFER_SIZE / 16n)));
    if (!stdevId) {
      expect(out.num_iovas).toBe(2);
      expect(ranges()).toEqual([
        { start: 0n, last: P - 1n },
        { start: P * 2n, last: SIZE_MAX },
      ]);
    } else {
      expect(out.num_iovas).toBe(1);
      expect(ranges()[0]).toEqual({ start: BigInt(MOCK_APERTURE_START), last: BigInt(MOCK_APERTURE_LAST) });
    }

    // Buffer too small.
    clear();
    if (!stdevId) {
      err = await expectErrno('EMSGSIZE', call(1));
      expect(err.out?.num_iovas).toBe(2);
      expect(ranges()[0]).toEqual({ start: 0n, last: P - 1n });
    } else {
      out = await expectOk(call(1));
      expect(out.num_iovas).toBe(1);
      expect(ranges()[0]).toEqual({ start: BigInt(MOCK_APERTURE_START), last: BigInt(MOCK_APERTURE_LAST) });
    }
    expect(ranges()[1]).toEqual({ start: 0n, last: 0n });
  });
});

describe('IOMMU_IOAS_IOVA_RANGES / IOMMU_IOAS_ALLOW_IOVAS rules (§2.3, §2.4)', () => {
  let self: Selftest;
  let ioasId: number;
  beforeEach(async () => {
    self = openSelftest();
    ioasId = await ioasAlloc(self.fd);
  });
  afterEach(async () => {
    await closeAndCheck(self);
  });
  const ranges = (fields: Record<string, unknown>) =>
    self.fd.ioctl('IOMMU_IOAS_IOVA_RANGES', { ioas_id: ioasId, ...fields });
  const allow = (fields: Record<string, unknown>) =>
    self.fd.ioctl('IOMMU_IOAS_ALLOW_IOVAS', { ioas_id: ioasId, ...fields });

  test('IOVA_RANGES: __reserved → EOPNOTSUPP before the ID; a missing or non-IOAS ID → ENOENT', async () => {
    await expectErrno(
      'EOPNOTSUPP',
      rawCall(self.fd, 'IOMMU_IOAS_IOVA_RANGES', { __reserved: 1, ioas_id: 99 }),
    );
    await expectErrno('ENOENT', ranges({ ioas_id: 99 }));
    await expectErrno('ENOENT', ranges({ ioas_id: 0 }));
    const md = await mockDomain(self.fd, ioasId);
    await expectErrno('ENOENT', ranges({ ioas_id: md.hwptId }));
    await expectErrno('ENOENT', ranges({ ioas_id: md.idevId }));
  });

  test('IOVA_RANGES: a bad pointer → EFAULT (nothing copied back) unless no entry is to be written', async () => {
    const va = place(
      self.proc,
      iommu_ioas_iova_ranges.encode({ size: 32, ioas_id: ioasId, num_iovas: 1, allowed_iovas: BAD_VA }),
    );
    await expectErrno('EFAULT', () => self.fd.ioctlRaw(IOMMU_IOAS_IOVA_RANGES, va));
    expect(iommu_ioas_iova_ranges.decode(self.proc.read(va, 32))).toMatchObject({
      num_iovas: 1,
      out_iova_alignment: 0n,
    });
    // num_iovas = 0 writes no entry: the struct comes back, then EMSGSIZE.
    self.proc.write(va + 8n, new Uint8Array(4));
    await expectErrno('EMSGSIZE', () => self.fd.ioctlRaw(IOMMU_IOAS_IOVA_RANGES, va));
    expect(iommu_ioas_iova_ranges.decode(self.proc.read(va, 32))).toMatchObject({
      num_iovas: 1,
      out_iova_alignment: 1n,
    });
  });

  test('IOVA_RANGES: EMSGSIZE writes the first entries and the alignment; later user entries stay untouched', async () => {
    await addReserved(self.fd, ioasId, P, P);
    await addReserved(self.fd, ioasId, 4n * P, P);
    const buf = place(self.proc, new Uint8Array(64).fill(0xaa));
    const err = await expectErrno('EMSGSIZE', ranges({ num_iovas: 2, allowed_iovas: buf }));
    expect(err.out).toMatchObject({ num_iovas: 3, out_iova_alignment: 1n });
    const bytes = self.proc.read(buf, 64);
    expect(decodeRanges(bytes.subarray(0, 32))).toEqual([
      { start: 0n, last: P - 1n },
      { start: 2n * P, last: 4n * P - 1n },
    ]);
    expect(bytes.subarray(32).every((b) => b === 0xaa)).toBe(true);
  });

  test('IOVA_RANGES ignores the allowed list and reports the holes of the reserved ranges only', async () => {
    await allowIovas(self.fd, ioasId, [{ start: 200n * P, last: 600n * P - 1n }]);
    expect((await iovaRanges(self.fd, ioasId)).ranges).toEqual([{ start: 0n, last: SIZE_MAX }]);
    // Overlapping reservations merge in the output.
    await allowIovas(self.fd, ioasId, []);
    await addReserved(self.fd, ioasId, P, 4n * P);
    await addReserved(self.fd, ioasId, 3n * P, 4n * P);
    expect((await iovaRanges(self.fd, ioasId)).ranges).toEqual([
      { start: 0n, last: P - 1n },
      { start: 7n * P, last: SIZE_MAX },
    ]);
  });

  test('ALLOW_IOVAS check order: __reserved, then the ID, then each range in turn', async () => {
    await allowIovas(self.fd, ioasId, [{ start: 100n * P, last: 200n * P }]);
    await addReserved(self.fd, ioasId, 0n, P);
    const ids = [ioasId];
    await expectErrnoUnchanged(self, ids, 'EOPNOTSUPP', () =>
      rawCall(self.fd, 'IOMMU_IOAS_ALLOW_IOVAS', { __reserved: 1, ioas_id: 99 }),
    );
    await expectErrnoUnchanged(self, ids, 'ENOENT', () =>
      allow({ ioas_id: 99, num_iovas: 1, allowed_iovas: BAD_VA }),
    );
    await expectErrnoUnchanged(self, ids, 'EFAULT', () => allow({ num_iovas: 1, allowed_iovas: BAD_VA }));
    // A bad second entry after a valid first one is EFAULT; an invalid first entry wins over it.
    const at = beforeGuardPage(self.proc, 16n);
    self.proc.write(at, encodeRanges([{ start: 10n * P, last: 20n * P }]));
    await expectErrnoUnchanged(self, ids, 'EFAULT', () => allow({ num_iovas: 2, allowed_iovas: at }));
    self.proc.write(at, encodeRanges([{ start: 20n * P, last: 20n * P }]));
    await expectErrnoUnchanged(self, ids, 'EINVAL', () => allow({ num_iovas: 2, allowed_iovas: at }));
    // The whole list is validated before any range is checked against reservations.
    const list = (rs: Range[]) => allowIovas(self.fd, ioasId, rs);
    await expectErrnoUnchanged(self, ids, 'EINVAL', () =>
      list([
        { start: 0n, last: 10n * P },
        { start: 30n * P, last: 30n * P },
      ]),
    );
    await expectErrnoUnchanged(self, ids, 'EADDRINUSE', () =>
      list([
        { start: 50n * P, last: 60n * P },
        { start: 0n, last: 10n * P },
      ]),
    );
  });

  test('ALLOW_IOVAS: start >= last and overlaps → EINVAL; adjacent ranges are fine; [] clears', async () => {
    const ids = [ioasId];
    const list = (rs: Range[]) => allowIovas(self.fd, ioasId, rs);
    await expectErrnoUnchanged(self, ids, 'EINVAL', () => list([{ start: 5n * P, last: 5n * P }]));
    await expectErrnoUnchanged(self, ids, 'EINVAL', () => list([{ start: 6n * P, last: 5n * P }]));
    await expectErrnoUnchanged(self, ids, 'EINVAL', () =>
      list([
        { start: 0n, last: 10n * P },
        { start: 10n * P, last: 20n * P },
      ]),
    );
    await expectErrnoUnchanged(self, ids, 'EINVAL', () =>
      list([
        { start: 10n * P, last: 20n * P },
        { start: 0n, last: 30n * P },
      ]),
    );
    await expectOk(
      list([
        { start: 20n * P, last: 30n * P - 1n },
        { start: 10n * P, last: 20n * P - 1n },
      ]),
    );
    // Adjacent allowed ranges form one span: an 8-page map straddles their boundary.
    expect(await ioasMap(self.fd, ioasId, self.buffer, 8n * P)).toBe(16n * P);
    await expectOk(list([]));
    expect(await ioasMap(self.fd, ioasId, self.buffer, P)).toBe(P);
  });

  test('a failed ALLOW_IOVAS keeps the old list for auto allocation', async () => {
    await allowIovas(self.fd, ioasId, [{ start: 200n * P, last: 600n * P - 1n }]);
    await addReserved(self.fd, ioasId, 4n * P, 100n * P);
    await expectErrno('EADDRINUSE', allowIovas(self.fd, ioasId, [{ start: P, last: 600n * P }]));
    await expectErrno('EINVAL', allowIovas(self.fd, ioasId, [{ start: P, last: P }]));
    expect(await ioasMap(self.fd, ioasId, self.buffer, P)).toBe(200n * P);
  });

  test('attach raising the alignment over a misaligned area → EADDRINUSE; detach lowers it again', async () => {
    const A = BigInt(MOCK_APERTURE_START);
    await ioasMap(self.fd, ioasId, self.buffer, P, A + 1024n);
    await expectErrnoUnchanged(self, [ioasId], 'EADDRINUSE', () => mockDomain(self.fd, ioasId));
    await self.fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioasId, iova: 0n, length: SIZE_MAX });
    const md = await mockDomain(self.fd, ioasId);
    expect(await iovaRanges(self.fd, ioasId)).toMatchObject({
      ranges: [{ start: A, last: BigInt(MOCK_APERTURE_LAST) }],
      alignment: BigInt(MOCK_PAGE_SIZE),
    });
    await self.fd.ioctl('IOMMU_DESTROY', { id: md.stdevId });
    expect(await iovaRanges(self.fd, ioasId)).toMatchObject({
      ranges: [{ start: 0n, last: SIZE_MAX }],
      alignment: 1n,
    });
  });

  test('attach fails cleanly (EADDRINUSE) when the domain aperture hits an allowed range or an area', async () => {
    await allowIovas(self.fd, ioasId, [{ start: P, last: 2n * P - 1n }]);
    await expectErrnoUnchanged(self, [ioasId], 'EADDRINUSE', () => mockDomain(self.fd, ioasId));
    await allowIovas(self.fd, ioasId, []);
    await ioasMap(self.fd, ioasId, self.buffer, P, 0n);
    await expectErrnoUnchanged(self, [ioasId], 'EADDRINUSE', () => mockDomain(self.fd, ioasId));
    expect(self.proc.mm.counters.pinnedPages).toBe(0n);
    // Inside the aperture both are fine.
    await allowIovas(self.fd, ioasId, [
      { start: BigInt(MOCK_APERTURE_START), last: BigInt(MOCK_APERTURE_START) + P },
    ]);
    await self.fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioasId, iova: 0n, length: P });
    await ioasMap(self.fd, ioasId, self.buffer, P, BigInt(MOCK_APERTURE_START) + 8n * P);
    await expectOk(mockDomain(self.fd, ioasId));
    expect(self.proc.mm.counters.pinnedPages).toBe(1n);
  });
});
