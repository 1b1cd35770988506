/**
 * The VFIO type1 container API on /dev/iommu (spec §2.21, vfio_compat.c), catalogue 7–11 and the
 * `vfio_compat_mock_domain` fixture, 67–71.
 */
import { describe, expect, test } from 'vitest';
import {
  _IO,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_GET,
  IOMMU_TEST_IOTLB_DEFAULT,
  IOMMU_VFIO_IOAS_SET,
  type Iommufd,
  MOCK_IOMMUPT_HUGE,
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_EEH,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_DIRTY_PAGES,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_NOIOMMU_IOMMU,
  VFIO_SET_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1_NESTING_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
  vfio_info_cap_header,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
  vfio_iommu_type1_info_cap_iova_range,
  vfio_iommu_type1_info_dma_avail,
  vfio_iova_range,
} from '../../../index.ts';
import {
  MOCK_APERTURE_START as A,
  accessPages,
  B,
  checkMap,
  createAccess,
  expectErrno,
  MOCK_APERTURE_LAST as L,
  mockDomain,
  P,
  type Self,
  setup,
  teardown,
} from './selftest-fixture.ts';

const RW = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;

/** Places `bytes` in a fresh user buffer of `room` bytes (zero past them) and returns its VA. */
function place(fd: Iommufd, bytes: Uint8Array, room = 4096): bigint {
  const va = fd.process.mmap(room);
  fd.process.write(va, bytes);
  return va;
}

function mapDma(
  fd: Iommufd,
  fields: { vaddr: bigint; iova: bigint; size: bigint; flags?: number; argsz?: number },
) {
  const bytes = vfio_iommu_type1_dma_map.encode({
    argsz: vfio_iommu_type1_dma_map.sizeof,
    flags: RW,
    ...fields,
  });
  return fd.ioctlRaw(VFIO_IOMMU_MAP_DMA, place(fd, bytes));
}

async function unmapDma(
  fd: Iommufd,
  fields: { iova: bigint; size: bigint; flags?: number; argsz?: number },
): Promise<bigint> {
  const va = place(
    fd,
    vfio_iommu_type1_dma_unmap.encode({ argsz: vfio_iommu_type1_dma_unmap.sizeof, ...fields }),
  );
  await fd.ioctlRaw(VFIO_IOMMU_UNMAP_DMA, va);
  return vfio_iommu_type1_dma_unmap.decode(fd.process.read(va, vfio_iommu_type1_dma_unmap.sizeof)).size;
}

/** The `vfio_compat_mock_domain` fixture: IOAS, a mock device, VFIO_IOAS SET, VFIO_SET_IOMMU. */
async function compatSelf(type: number): Promise<Self> {
  const self = await setup({ mockDomain: true });
  await self.fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_SET, ioas_id: self.ioasId });
  expect(await self.fd.ioctlRaw(VFIO_SET_IOMMU, BigInt(type))).toBe(0);
  return self;
}

describe('VFIO compat without a compat IOAS (iommufd fixture)', () => {
  test('7 simple_ioctls: API version and TYPE1v2', async () => {
    const { fd } = await setup({ ioas: false });
    expect(await fd.ioctlRaw(VFIO_GET_API_VERSION, null)).toBe(VFIO_API_VERSION);
    expect(await fd.ioctlRaw(VFIO_CHECK_EXTENSION, BigInt(VFIO_TYPE1v2_IOMMU))).toBe(1);
  });

  test('VFIO_CHECK_EXTENSION takes the number itself', async () => {
    const { fd } = await setup({ ioas: false });
    const ext = (n: number) => fd.ioctlRaw(VFIO_CHECK_EXTENSION, BigInt(n));
    expect(await ext(VFIO_TYPE1_IOMMU)).toBe(1);
    expect(await ext(VFIO_UNMAP_ALL)).toBe(1);
    for (const n of [0, VFIO_SPAPR_TCE_IOMMU, VFIO_EEH, VFIO_TYPE1_NESTING_IOMMU, VFIO_NOIOMMU_IOMMU]) {
      expect(await ext(n)).toBe(0);
    }
    expect(await ext(VFIO_UPDATE_VADDR)).toBe(0);
    expect(await fd.ioctlRaw(VFIO_CHECK_EXTENSION, null)).toBe(0);
    await expectErrno('ENODEV', ext(VFIO_DMA_CC_IOMMU));
  });

  test('8 unmap_cmd: argsz 1 EINVAL, flags 1<<31 EINVAL, valid ENODEV', async () => {
    const { fd } = await setup({ ioas: false });
    await expectErrno('EINVAL', unmapDma(fd, { iova: 0n, size: 0n, argsz: 1 }));
    await expectErrno('EINVAL', unmapDma(fd, { iova: 0n, size: 0n, flags: 1 << 31 }));
    await expectErrno('ENODEV', unmapDma(fd, { iova: 0n, size: 0n }));
  });

  test('9 map_cmd: argsz 1 EINVAL, flags 1<<31 EINVAL, R|W ENODEV', async () => {
    const { fd, buffer } = await setup({ ioas: false });
    await expectErrno('EINVAL', mapDma(fd, { vaddr: buffer, iova: A, size: P, argsz: 1 }));
    await expectErrno('EINVAL', mapDma(fd, { vaddr: buffer, iova: A, size: P, flags: 1 << 31 }));
    await expectErrno('ENODEV', mapDma(fd, { vaddr: buffer, iova: A, size: P }));
  });

  test('10 info_cmd: argsz 1 EINVAL, full ENODEV', async () => {
    const { fd } = await setup({ ioas: false });
    const info = (argsz: number) =>
      fd.ioctlRaw(VFIO_IOMMU_GET_INFO, place(fd, vfio_iommu_type1_info.encode({ argsz })));
    await expectErrno('EINVAL', info(1));
    await expectErrno('ENODEV', info(vfio_iommu_type1_info.sizeof));
  });

  test('11 set_iommu_cmd: TYPE1v2 and TYPE1 ENODEV; other types EINVAL first', async () => {
    const { fd, ioasId } = await setup();
    await expectErrno('ENODEV', fd.ioctlRaw(VFIO_SET_IOMMU, BigInt(VFIO_TYPE1v2_IOMMU)));
    await expectErrno('ENODEV', fd.ioctlRaw(VFIO_SET_IOMMU, BigInt(VFIO_TYPE1_IOMMU)));
    await expectErrno('EINVAL', fd.ioctlRaw(VFIO_SET_IOMMU, BigInt(VFIO_NOIOMMU_IOMMU)));
    await expectErrno('EINVAL', fd.ioctlRaw(VFIO_SET_IOMMU, 0n));
    await fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_SET, ioas_id: ioasId });
    await expectErrno('EINVAL', fd.ioctlRaw(VFIO_SET_IOMMU, BigInt(VFIO_SPAPR_TCE_IOMMU)));
  });

  test('NULL pointers are EFAULT; unknown commands, VFIO_IOMMU_DIRTY_PAGES included, ENOTTY', async () => {
    const { fd } = await setup({ ioas: false });
    await expectErrno('EFAULT', fd.ioctlRaw(VFIO_IOMMU_MAP_DMA, null));
    await expectErrno('EFAULT', fd.ioctlRaw(VFIO_IOMMU_UNMAP_DMA, null));
    await expectErrno('EFAULT', fd.ioctlRaw(VFIO_IOMMU_GET_INFO, null));
    await expectErrno('ENOTTY', fd.ioctlRaw(VFIO_IOMMU_DIRTY_PAGES, null));
    await expectErrno('ENOTTY', fd.ioctlRaw(_IO(0x3b, 0x7f), null));
    const err = await expectErrno('ENOTTY', fd.ioctlRaw(_IO(0x3b, 100 + 3), null));
    expect(err.code).toBe(25);
  });
});

const VERSIONS = [
  { name: 'Ver1v2', type: VFIO_TYPE1v2_IOMMU, v1: false },
  { name: 'Ver1v0', type: VFIO_TYPE1_IOMMU, v1: true },
];

describe.each(VERSIONS)('vfio_compat_mock_domain/$name', ({ type, v1 }) => {
  test('67 simple_close', async () => {
    const self = await compatSelf(type);
    await teardown(self);
  });

  test('68 option_huge_pages', async () => {
    const { fd, ioasId } = await compatSelf(type);
    const out = await fd.ioctl('IOMMU_OPTION', {
      option_id: IOMMU_OPTION_HUGE_PAGES,
      op: IOMMU_OPTION_OP_GET,
      object_id: ioasId,
    });
    expect(out.val64).toBe(v1 ? 0n : 1n);
  });

  test('69 get_info: flags, page sizes and the capability chain for every argsz', async () => {
    const { fd, proc } = await compatSelf(type);
    const infoSize = vfio_iommu_type1_info.sizeof;
    const call = async (argsz: number) => {
      const room = 256;
      const va = place(fd, new Uint8Array(room).fill(0xcc), room);
      proc.write(va, vfio_iommu_type1_info.encode({ argsz }).subarray(0, Math.min(argsz, infoSize)));
      await fd.ioctlRaw(VFIO_IOMMU_GET_INFO, va);
      return proc.read(va, room);
    };
    // Just the fixed part: nothing written past argsz.
    const minsz = vfio_iommu_type1_info.offsetof('cap_offset');
    let mem = await call(minsz);
    let info = vfio_iommu_type1_info.decode(mem.subarray(0, minsz));
    expect(info.flags).toBe(VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
    expect(info.iova_pgsizes).toBe(v1 ? P : 2048n);
    expect(mem.subarray(minsz).every((b) => b === 0xcc)).toBe(true);
    // The whole struct: no room for caps, so cap_offset 0 and argsz says what is needed.
    mem = await call(infoSize);
    info = vfio_iommu_type1_info.decode(mem);
    expect(info.cap_offset).toBe(0);
    expect(info.argsz).toBeGreaterThan(infoSize);
    const needed = info.argsz;
    expect(mem.subarray(infoSize).every((b) => b === 0xcc)).toBe(true);
    for (let argsz = infoSize + 1; argsz <= needed; argsz++) {
      mem = await call(argsz);
      info = vfio_iommu_type1_info.decode(mem);
      expect(info.argsz).toBe(needed);
      if (argsz < needed) {
        expect(info.cap_offset).toBe(0);
        continue;
      }
      expect(info.cap_offset).toBe(infoSize);
      const avail = vfio_iommu_type1_info_dma_avail.decode(mem.subarray(infoSize));
      expect(avail.header).toMatchObject({ id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1 });
      expect(avail.avail).toBe(0xffff_ffff);
      const next = avail.header.next;
      const iova = vfio_iommu_type1_info_cap_iova_range.decode(mem.subarray(next));
      expect(iova.header).toMatchObject({ id: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1, next: 0 });
      expect(iova.nr_iovas).toBe(1);
      const range = vfio_iova_range.decode(mem.subarray(next + vfio_iommu_type1_info_cap_iova_range.sizeof));
      expect(range).toEqual({ start: A, end: L });
      expect(next + vfio_iommu_type1_info_cap_iova_range.sizeof + vfio_iova_range.sizeof).toBe(needed);
    }
  });

  test('GET_INFO with room for the first cap only links nothing and leaves the second unwritten', async () => {
    const { fd, proc } = await compatSelf(type);
    const infoSize = vfio_iommu_type1_info.sizeof;
    const va = place(fd, new Uint8Array(256).fill(0xcc), 256);
    const argsz = infoSize + vfio_iommu_type1_info_dma_avail.sizeof;
    proc.write(va, vfio_iommu_type1_info.encode({ argsz }));
    await fd.ioctlRaw(VFIO_IOMMU_GET_INFO, va);
    const mem = proc.read(va, 256);
    const head = vfio_info_cap_header.decode(mem.subarray(infoSize));
    expect(head).toMatchObject({ id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1, next: 0 });
    expect(mem.subarray(infoSize + 16).every((b) => b === 0xcc)).toBe(true);
  });

  test('70 map: map, unmap, empty unmap, UNMAP_ALL rules, 16 single pages in shuffled order', async () => {
    const self = await compatSelf(type);
    const { fd, buffer } = self;
    await mapDma(fd, { vaddr: buffer, iova: A, size: B });
    expect(await unmapDma(fd, { iova: A, size: B })).toBe(B);
    expect(await unmapDma(fd, { iova: A, size: B })).toBe(0n);
    await mapDma(fd, { vaddr: buffer, iova: A, size: B });
    await expectErrno('EINVAL', unmapDma(fd, { iova: A, size: 0n, flags: VFIO_DMA_UNMAP_FLAG_ALL }));
    await expectErrno('EINVAL', unmapDma(fd, { iova: 0n, size: P, flags: VFIO_DMA_UNMAP_FLAG_ALL }));
    expect(await unmapDma(fd, { iova: 0n, size: 0n, flags: VFIO_DMA_UNMAP_FLAG_ALL })).toBe(B);
    expect(await unmapDma(fd, { iova: 0n, size: 0n, flags: VFIO_DMA_UNMAP_FLAG_ALL })).toBe(0n);
    for (let i = 0n; i < 16n; i++) await mapDma(fd, { vaddr: buffer + i * P, iova: A + i * P, size: P });
    await checkMap(fd, self.hwptId, A, B, buffer);
    for (const i of shuffled(16, 3)) expect(await unmapDma(fd, { iova: A + BigInt(i) * P, size: P })).toBe(P);
    await teardown(self);
  });

  test(`71 huge_map: 256 KiB pieces of a 4 MiB hugetlb mapping unmap ${v1 ? 'fine' : 'ENOENT'}`, async () => {
    const self = await compatSelf(type);
    const { fd, proc } = self;
    const size = 4n << 20n;
    const buf = proc.mmap(size, { hugetlb: true });
    await mapDma(fd, { vaddr: buf, iova: A, size });
    const piece = size / 16n;
    for (const i of shuffled(16, 5)) {
      const unmap = unmapDma(fd, { iova: A + BigInt(i) * piece, size: piece });
      if (v1) expect(await unmap).toBe(piece);
      else await expectErrno('ENOENT', unmap);
    }
    await teardown(self);
  });

  test('MAP_DMA errors: zero size EINVAL, vaddr overflow EOVERFLOW, overlap EEXIST, reserved EINVAL', async () => {
    const self = await compatSelf(type);
    const { fd, buffer } = self;
    await expectErrno('EINVAL', mapDma(fd, { vaddr: buffer, iova: A, size: 0n }));
    await expectErrno('EOVERFLOW', mapDma(fd, { vaddr: (1n << 64n) - P, iova: A, size: 2n * P }));
    await mapDma(fd, { vaddr: buffer, iova: A, size: 2n * P });
    await expectErrno('EEXIST', mapDma(fd, { vaddr: buffer, iova: A + P, size: 2n * P }));
    await expectErrno('EINVAL', mapDma(fd, { vaddr: buffer, iova: 0n, size: P }));
    if (v1) await expectErrno('EINVAL', mapDma(fd, { vaddr: buffer, iova: A + 4n * P + 2048n, size: 2048n }));
    else await mapDma(fd, { vaddr: buffer, iova: A + 4n * P + 2048n, size: 2048n });
    await teardown(self);
  });

  test('UNMAP_DMA: size 0 EINVAL, overflow EOVERFLOW', async () => {
    const { fd } = await compatSelf(type);
    await expectErrno('EINVAL', unmapDma(fd, { iova: A, size: 0n }));
    await expectErrno('EOVERFLOW', unmapDma(fd, { iova: (1n << 64n) - P, size: 2n * P }));
  });

  test('a partial unmap writes back the bytes already removed', async () => {
    const self = await compatSelf(type);
    const { fd, buffer, proc } = self;
    await mapDma(fd, { vaddr: buffer, iova: A, size: P });
    await mapDma(fd, { vaddr: buffer + P, iova: A + P, size: 2n * P });
    const va = place(fd, vfio_iommu_type1_dma_unmap.encode({ argsz: 24, iova: A, size: 2n * P }));
    const call = fd.ioctlRaw(VFIO_IOMMU_UNMAP_DMA, va);
    if (v1) {
      await call;
      expect(vfio_iommu_type1_dma_unmap.decode(proc.read(va, 24)).size).toBe(2n * P);
      await checkMap(fd, self.hwptId, A + 2n * P, P, buffer + 2n * P);
    } else {
      await expectErrno('ENOENT', call);
      expect(vfio_iommu_type1_dma_unmap.decode(proc.read(va, 24)).size).toBe(P);
      await checkMap(fd, self.hwptId, A + P, 2n * P, buffer + P);
    }
    await teardown(self);
  });

  test('VFIO_DMA_CC_IOMMU: 1 with no HWPT on the compat IOAS, 0 with the mock one', async () => {
    const { fd, stdevId } = await compatSelf(type);
    expect(await fd.ioctlRaw(VFIO_CHECK_EXTENSION, BigInt(VFIO_DMA_CC_IOMMU))).toBe(0);
    await fd.ioctl('IOMMU_DESTROY', { id: stdevId });
    expect(await fd.ioctlRaw(VFIO_CHECK_EXTENSION, BigInt(VFIO_DMA_CC_IOMMU))).toBe(1);
  });

  test('destroying the compat IOAS turns every call back to ENODEV', async () => {
    const { fd, ioasId, stdevId, buffer } = await compatSelf(type);
    await fd.ioctl('IOMMU_DESTROY', { id: stdevId });
    await fd.ioctl('IOMMU_DESTROY', { id: ioasId });
    await expectErrno('ENODEV', mapDma(fd, { vaddr: buffer, iova: A, size: P }));
    await expectErrno('ENODEV', fd.ioctlRaw(VFIO_SET_IOMMU, BigInt(type)));
  });
});

describe('type1 (v1) splitting', () => {
  test('the cut keeps the rest mapped in the domain and pinned exactly once', async () => {
    const self = await compatSelf(VFIO_TYPE1_IOMMU);
    const { fd, buffer } = self;
    await mapDma(fd, { vaddr: buffer, iova: A, size: B });
    expect(await unmapDma(fd, { iova: A + 4n * P, size: 4n * P })).toBe(4n * P);
    await checkMap(fd, self.hwptId, A, 4n * P, buffer);
    await checkMap(fd, self.hwptId, A + 8n * P, B - 8n * P, buffer + 8n * P);
    await fd.ioctl('IOMMU_TEST_CMD', { op: 4, check_refs: { uptr: buffer, length: 4n * P, refs: 1 } });
    await fd.ioctl('IOMMU_TEST_CMD', {
      op: 4,
      check_refs: { uptr: buffer + 4n * P, length: 4n * P, refs: 0 },
    });
    // Across the hole: both halves are cut again and their inner parts go.
    expect(await unmapDma(fd, { iova: A + 2n * P, size: 8n * P })).toBe(4n * P);
    expect(await unmapDma(fd, { iova: 0n, size: 0n, flags: VFIO_DMA_UNMAP_FLAG_ALL })).toBe(B - 8n * P);
    await teardown(self);
  });

  test('a cut through an area an access pins is EINVAL and leaves the area whole', async () => {
    const self = await compatSelf(VFIO_TYPE1_IOMMU);
    const { fd, buffer, ioasId, proc } = self;
    await mapDma(fd, { vaddr: buffer, iova: A, size: B });
    const afd = await createAccess(fd, ioasId, 1);
    await accessPages(fd, afd, A, P, buffer);
    await expectErrno('EINVAL', unmapDma(fd, { iova: A + 4n * P, size: 4n * P }));
    proc.close(afd);
    expect(await unmapDma(fd, { iova: A, size: B })).toBe(B);
    await teardown(self);
  });

  test('HUGE_PAGES=0 set through IOMMU_OPTION allows cuts too, and a new domain maps page by page', async () => {
    const self = await setup();
    const { fd, ioasId, buffer } = self;
    await fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_SET, ioas_id: ioasId });
    await fd.ioctl('IOMMU_OPTION', {
      option_id: IOMMU_OPTION_HUGE_PAGES,
      op: 0,
      object_id: ioasId,
      val64: 0n,
    });
    await mapDma(fd, { vaddr: buffer, iova: A, size: B });
    expect(await unmapDma(fd, { iova: A + P, size: P })).toBe(P);
    const md = await mockDomain(fd, ioasId);
    await checkMap(fd, md.hwptId, A, P, buffer);
    await checkMap(fd, md.hwptId, A + 2n * P, B - 2n * P, buffer + 2n * P);
    await teardown(self);
  });
});

describe('type1 (v1) on a domain with large pages', () => {
  test('mappings are made page by page, so a cut inside a huge page keeps the rest translated', async () => {
    const self = await compatSelf(VFIO_TYPE1_IOMMU);
    const { fd, proc, ioasId, idevId } = self;
    const out = await fd.ioctl('IOMMU_HWPT_ALLOC', {
      dev_id: idevId,
      pt_id: ioasId,
      data_type: IOMMU_HWPT_DATA_SELFTEST,
      data_uptr: { iotlb: IOMMU_TEST_IOTLB_DEFAULT, pagetable_type: MOCK_IOMMUPT_HUGE },
    });
    const huge = out.out_hwpt_id as number;
    const size = 2n << 20n;
    const buf = proc.mmap(size, { hugetlb: true });
    await mapDma(fd, { vaddr: buf, iova: A, size });
    const piece = 256n << 10n;
    expect(await unmapDma(fd, { iova: A + piece, size: piece })).toBe(piece);
    await checkMap(fd, huge, A, piece, buf);
    await checkMap(fd, huge, A + 2n * piece, size - 2n * piece, buf + 2n * piece);
    await fd.ioctl('IOMMU_DESTROY', { id: huge });
    await teardown(self);
  });
});

/** A seeded Fisher–Yates order of 0..n-1 (the selftest shuffles with rand()). */
function shuffled(n: number, seed: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  let s = seed;
  for (let i = n - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
