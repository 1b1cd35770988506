/**
 * The typed form of the VFIO type1 container calls on /dev/iommu: the same struct as the raw
 * call, `argsz` defaulting to sizeof (not `size`, which is the mapping length here).
 */
import { afterEach, beforeEach, expect, test } from 'vitest';
import {
  IOMMU_VFIO_IOAS_SET,
  MOCK_APERTURE_START,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_SET_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  vfio_iommu_type1_info,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { closeAndCheck, mockDomain, openSelftest, PAGE_SIZE, type Selftest } from './helpers/fixture.ts';
import { ioasAlloc } from './helpers/more.ts';

const A = BigInt(MOCK_APERTURE_START);
let self: Selftest;

beforeEach(async () => {
  self = openSelftest();
  const ioasId = await ioasAlloc(self.fd);
  await mockDomain(self.fd, ioasId);
  await self.fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_SET, ioas_id: ioasId });
  await self.fd.ioctlRaw(VFIO_SET_IOMMU, BigInt(VFIO_TYPE1v2_IOMMU));
});
afterEach(async () => {
  await closeAndCheck(self);
});

test('MAP_DMA then UNMAP_DMA typed: the unmapped size comes back as a bigint', async () => {
  const flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  await expectOk(
    self.fd.ioctl('VFIO_IOMMU_MAP_DMA', { flags, vaddr: self.buffer, iova: A, size: 4n * PAGE_SIZE }),
  );
  const out = await expectOk(self.fd.ioctl('VFIO_IOMMU_UNMAP_DMA', { iova: A, size: 4n * PAGE_SIZE }));
  expect(out.size).toBe(4n * PAGE_SIZE);
  // Type1 v2 unmaps whatever lies inside the range: nothing is left, so nothing is unmapped.
  const again = await expectOk(self.fd.ioctl('VFIO_IOMMU_UNMAP_DMA', { iova: A, size: PAGE_SIZE }));
  expect(again.size).toBe(0n);
  // A misspelt struct field is refused before the call, with the kernel's EINVAL.
  await expectErrno('EINVAL', () =>
    self.fd.ioctl('VFIO_IOMMU_UNMAP_DMA', { iova: A, size: PAGE_SIZE, lenght: 1n } as never),
  );
});

test('GET_INFO typed: flags and page sizes, and argsz grown to what the capabilities need', async () => {
  const info = await expectOk(self.fd.ioctl('VFIO_IOMMU_GET_INFO', {}));
  expect(info.flags & VFIO_IOMMU_INFO_PGSIZES).toBe(VFIO_IOMMU_INFO_PGSIZES);
  expect(info.iova_pgsizes).toBeGreaterThan(0n);
  expect(info.argsz).toBeGreaterThan(vfio_iommu_type1_info.sizeof);
});
