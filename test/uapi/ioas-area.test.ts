/**
 * Selftest catalogue §6 "IOAS basics", areas: area (17–21), unmap_fully_contained_areas (22),
 * area_allowed (28–29), copy_area (30) and copy_sweep (39), on FIXTURE iommufd_ioas × variants.
 */
import { describe, expect, test } from 'vitest';
import { IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_WRITEABLE } from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { BUFFER_SIZE, ioasMap, ioasUnmap, PAGE_SIZE } from './helpers/fixture.ts';
import {
  APERTURE_START,
  addReserved,
  allowIovas,
  copy,
  destroy,
  IOAS_VARIANTS,
  ioasAlloc,
  MOCK_PGSIZE,
  U64_MAX,
  useIoasFixture,
} from './helpers/more.ts';

const P = PAGE_SIZE;

describe.each(IOAS_VARIANTS)('iommufd_ioas.$name', (variant) => {
  const self = useIoasFixture(variant);

  test('area', async () => {
    const { fd, ioasId, buffer, baseIova: base } = self();
    // 17: unmap fails if nothing is mapped.
    for (let i = 0n; i < 10n; i++) await expectErrno('ENOENT', ioasUnmap(fd, ioasId, i * P, P));
    // 18: unmap works.
    for (let i = 0n; i < 10n; i++) await expectOk(ioasMap(fd, ioasId, buffer, P, base + i * P));
    for (let i = 0n; i < 10n; i++) expect(await ioasUnmap(fd, ioasId, base + i * P, P)).toBe(P);
    // 19: split fails.
    await expectOk(ioasMap(fd, ioasId, buffer, P * 2n, base + 16n * P));
    await expectErrno('ENOENT', ioasUnmap(fd, ioasId, base + 16n * P, P));
    await expectErrno('ENOENT', ioasUnmap(fd, ioasId, base + 17n * P, P));
    // 20: over map fails.
    await expectErrno('EEXIST', ioasMap(fd, ioasId, buffer, P * 2n, base + 16n * P));
    await expectErrno('EEXIST', ioasMap(fd, ioasId, buffer, P, base + 16n * P));
    await expectErrno('EEXIST', ioasMap(fd, ioasId, buffer, P, base + 17n * P));
    await expectErrno('EEXIST', ioasMap(fd, ioasId, buffer, P * 2n, base + 15n * P));
    await expectErrno('EEXIST', ioasMap(fd, ioasId, buffer, P * 3n, base + 15n * P));
    // 21: unmap all works, and succeeds again on an empty IOAS.
    expect(await expectOk(ioasUnmap(fd, ioasId, 0n, U64_MAX))).toBe(2n * P);
    expect(await expectOk(ioasUnmap(fd, ioasId, 0n, U64_MAX))).toBe(0n);
  });

  test('unmap_fully_contained_areas', async () => {
    const { fd, ioasId, buffer } = self();
    // Give no_domain some space to rewind base_iova.
    const base = self().baseIova + 4n * P;
    for (let i = 0n; i < 4n; i++) await expectOk(ioasMap(fd, ioasId, buffer, 8n * P, base + i * 16n * P));
    // Unmapping a range that only partly covers an area fails.
    await expectErrno('ENOENT', ioasUnmap(fd, ioasId, base - 4n * P, 8n * P));
    await expectErrno('ENOENT', ioasUnmap(fd, ioasId, base + 3n * 16n * P + 8n * P - 4n * P, 8n * P));
    // A range fully containing areas unmaps them all.
    const length = 3n * 16n * P + 8n * P + 4n * P;
    expect(await expectOk(ioasUnmap(fd, ioasId, base - 4n * P, length))).toBe(32n * P);
  });

  test('area_allowed', async () => {
    const { fd, ioasId, baseIova } = self();
    const range = { start: baseIova, last: baseIova + P * 600n };
    // 28: a reservation may not intersect an allowed range.
    await expectOk(allowIovas(fd, ioasId, [range]));
    await expectErrno('EADDRINUSE', addReserved(fd, ioasId, range.start + P, P));
    await expectOk(allowIovas(fd, ioasId, []));
    // 29: an allowed range may not intersect a reservation.
    await expectOk(addReserved(fd, ioasId, range.start + P, P));
    await expectErrno('EADDRINUSE', allowIovas(fd, ioasId, [range]));
  });

  test('copy_area', async () => {
    const { fd, ioasId, buffer, baseIova } = self();
    const flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE;
    await expectOk(ioasMap(fd, ioasId, buffer, P, baseIova));
    // Copy inside a single IOAS.
    await expectOk(
      copy(fd, { flags, dst: ioasId, src: ioasId, length: P, srcIova: baseIova, dstIova: baseIova + P }),
    );
    // Copy between IOASes.
    const dst = await ioasAlloc(fd);
    expect(
      await expectOk(copy(fd, { flags, dst, src: ioasId, length: P, srcIova: baseIova, dstIova: 0n })),
    ).toBe(0n);
  });

  test('copy_sweep', async () => {
    const { fd, ioasId, buffer } = self();
    const flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE;
    const dst = await ioasAlloc(fd);
    const lastIova = APERTURE_START + BUFFER_SIZE - (variant.mockDomains ? 1n : 2n);
    await expectOk(ioasMap(fd, ioasId, buffer, lastIova - APERTURE_START + 1n, APERTURE_START));
    for (let iova = APERTURE_START - P; iova <= lastIova; iova += 511n) {
      const cmd = { flags, dst, src: ioasId, length: MOCK_PGSIZE, srcIova: iova, dstIova: APERTURE_START };
      if (iova < APERTURE_START || iova + MOCK_PGSIZE - 1n > lastIova) {
        await expectErrno('ENOENT', copy(fd, cmd));
      } else {
        await expectOk(copy(fd, cmd));
        await expectOk(ioasUnmap(fd, dst, APERTURE_START, MOCK_PGSIZE));
      }
    }
    await expectOk(destroy(fd, dst));
  });
});
