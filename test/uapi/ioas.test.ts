/**
 * Selftest catalogue §6 "IOAS basics" on FIXTURE iommufd_ioas × {no_domain, mock_domain,
 * two_mock_domain, mock_domain_limit}: 12–16 and the per-IOAS HUGE_PAGES option (36–38).
 */
import { describe, expect, test } from 'vitest';
import {
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_GET,
  IOMMU_OPTION_OP_SET,
  IOMMU_TEST_OP_MOCK_DOMAIN,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { ioasMap, ioasUnmap, PAGE_SIZE } from './helpers/fixture.ts';
import {
  APERTURE_START,
  destroy,
  IOAS_VARIANTS,
  MOCK_PGSIZE,
  option,
  useIoasFixture,
} from './helpers/more.ts';

describe.each(IOAS_VARIANTS)('iommufd_ioas.$name', (variant) => {
  const self = useIoasFixture(variant);

  test('ioas_auto_destroy', () => {
    const types = self()
      .fd.ctx.liveObjects()
      .map((o) => o.type);
    expect(types.filter((t) => t === 'IOAS')).toHaveLength(1);
    expect(types.filter((t) => t === 'SELFTEST')).toHaveLength(
      variant.mockDomains + (variant.pasidCapable ? 1 : 0),
    );
  });

  test('ioas_destroy', async () => {
    const { fd, ioasId, stdevId } = self();
    if (stdevId) await expectErrno('EBUSY', destroy(fd, ioasId));
    else await expectOk(destroy(fd, ioasId));
  });

  test('ioas_area_destroy', async () => {
    const { fd, ioasId, stdevId, buffer, baseIova } = self();
    await expectOk(ioasMap(fd, ioasId, buffer, PAGE_SIZE, baseIova));
    if (stdevId) await expectErrno('EBUSY', destroy(fd, ioasId));
    else await expectOk(destroy(fd, ioasId));
  });

  test('ioas_area_auto_destroy', async () => {
    const { fd, ioasId, buffer, baseIova } = self();
    for (let i = 0n; i < 10n; i++)
      await expectOk(ioasMap(fd, ioasId, buffer, PAGE_SIZE, baseIova + i * PAGE_SIZE));
  });

  test('hwpt_attach', async () => {
    const { fd, stdevId, hwptId } = self();
    const attach = fd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_MOCK_DOMAIN, id: hwptId });
    if (stdevId) {
      const out = await expectOk(attach);
      expect((out.mock_domain as { out_hwpt_id: number }).out_hwpt_id).toBe(hwptId);
    } else {
      await expectErrno('ENOENT', attach);
    }
  });

  test('ioas_option_huge_pages', async () => {
    const { fd, ioasId } = self();
    const base = { option_id: IOMMU_OPTION_HUGE_PAGES, object_id: ioasId };
    expect(await option(fd, { ...base, op: IOMMU_OPTION_OP_GET, val64: 3n })).toBe(1n);
    await expectOk(option(fd, { ...base, op: IOMMU_OPTION_OP_SET, val64: 0n }));
    expect(await option(fd, { ...base, op: IOMMU_OPTION_OP_GET, val64: 3n })).toBe(0n);
    await expectErrno('EINVAL', option(fd, { ...base, op: IOMMU_OPTION_OP_SET, val64: 2n }));
    await expectOk(option(fd, { ...base, op: IOMMU_OPTION_OP_SET, val64: 1n }));
  });

  test('ioas_iova_alloc', async () => {
    const { fd, ioasId, buffer } = self();
    for (let length = 1n; length !== PAGE_SIZE * 2n; length++) {
      if (variant.mockDomains && length % MOCK_PGSIZE) {
        await expectErrno('EINVAL', ioasMap(fd, ioasId, buffer, length));
      } else {
        const iova = await expectOk(ioasMap(fd, ioasId, buffer, length));
        await expectOk(ioasUnmap(fd, ioasId, iova, length));
      }
    }
  }, 120_000);

  test('ioas_align_change', async () => {
    const { fd, ioasId, buffer } = self();
    const set = (val64: bigint) =>
      option(fd, { option_id: IOMMU_OPTION_HUGE_PAGES, op: IOMMU_OPTION_OP_SET, object_id: ioasId, val64 });
    // The alignment cannot be raised by HUGE_PAGES while a domain and a map are present.
    if (variant.mockDomains) {
      await ioasMap(fd, ioasId, buffer, PAGE_SIZE, APERTURE_START);
      await expectErrno('EINVAL', set(0n));
      return;
    }
    await expectOk(ioasMap(fd, ioasId, buffer, PAGE_SIZE, APERTURE_START));
    await expectOk(set(0n));
    // Misalignment is rejected at map time.
    await expectErrno(
      'EINVAL',
      ioasMap(fd, ioasId, buffer + MOCK_PGSIZE, PAGE_SIZE, APERTURE_START + PAGE_SIZE),
    );
    await expectOk(set(0n));
    // Reduce alignment.
    await expectOk(set(1n));
    // Misalignment is rejected during the alignment upgrade.
    await expectOk(ioasMap(fd, ioasId, buffer + MOCK_PGSIZE, PAGE_SIZE, APERTURE_START + PAGE_SIZE));
    await expectErrno('EADDRINUSE', set(0n));
    await expectOk(ioasUnmap(fd, ioasId, APERTURE_START + PAGE_SIZE, PAGE_SIZE));
    await expectOk(ioasUnmap(fd, ioasId, APERTURE_START, PAGE_SIZE));
  });
});
