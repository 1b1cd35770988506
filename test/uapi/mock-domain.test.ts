/**
 * Selftest catalogue §6 "Mock-domain behaviour" (55–58) on FIXTURE iommufd_mock_domain × {one_domain,
 * two_domains, one_domain_hugepage, two_domains_hugepage, one_domain_file, one_domain_file_hugepage}.
 * 55's mmap half-munmap part is out of scope (it depends on Linux mm); its one-page map is kept.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import {
  BUFFER_SIZE,
  closeAndCheck,
  HUGEPAGE_SIZE,
  ioasMap,
  ioasUnmap,
  type MockDomain,
  mockDomain,
  openSelftest,
  PAGE_SIZE,
  type Selftest,
} from './helpers/fixture.ts';
import {
  APERTURE_START,
  accessPages,
  checkMockIova,
  checkRefs,
  copy,
  createAccess,
  destroy,
  destroyAccessPages,
  ioasAlloc,
  MOCK_PGSIZE,
  mapFile,
} from './helpers/more.ts';

const P = PAGE_SIZE;

interface MockDomainVariant {
  readonly name: string;
  readonly mockDomains: number;
  readonly hugepages: boolean;
  readonly file: boolean;
}

const VARIANTS: readonly MockDomainVariant[] = [
  { name: 'one_domain', mockDomains: 1, hugepages: false, file: false },
  { name: 'two_domains', mockDomains: 2, hugepages: false, file: false },
  { name: 'one_domain_hugepage', mockDomains: 1, hugepages: true, file: false },
  { name: 'two_domains_hugepage', mockDomains: 2, hugepages: true, file: false },
  { name: 'one_domain_file', mockDomains: 1, hugepages: false, file: true },
  { name: 'one_domain_file_hugepage', mockDomains: 1, hugepages: true, file: true },
];

interface MockSelf extends Selftest {
  ioasId: number;
  domains: MockDomain[];
  /** `hwpt_ids[]`: the second slot is 0 with one domain. */
  hwptIds: number[];
  mmapBufSize: bigint;
  /** The selftest's global memfd of BUFFER_SIZE and its shared mapping. */
  mfd: number;
  mfdBuffer: bigint;
}

describe.each(VARIANTS)('iommufd_mock_domain.$name', (variant) => {
  let self: MockSelf;
  beforeEach(async () => {
    const st = openSelftest();
    const ioasId = await ioasAlloc(st.fd);
    const domains: MockDomain[] = [];
    for (let i = 0; i < variant.mockDomains; i++) domains.push(await mockDomain(st.fd, ioasId));
    const mfd = st.proc.memfd(BUFFER_SIZE);
    const mfdBuffer = st.proc.mmap(BUFFER_SIZE, { fd: mfd, shared: true });
    self = {
      ...st,
      ioasId,
      domains,
      hwptIds: [domains[0]!.hwptId, domains[1]?.hwptId ?? 0],
      mmapBufSize: variant.hugepages ? HUGEPAGE_SIZE * 2n : P * 8n,
      mfd,
      mfdBuffer,
    };
  });
  afterEach(async () => {
    self.proc.close(self.mfd);
    await closeAndCheck(self);
  });

  const checkMock = (uptr: bigint, iova: bigint, length: bigint) =>
    checkMockIova(
      self.fd,
      self.hwptIds.filter((id) => id !== 0),
      uptr,
      iova,
      length,
    );

  /** `mmap(self->mmap_flags)` or `memfd_mmap`: the buffer, and the memfd behind it for file variants. */
  function mapBuffer(): { buf: bigint; mfd: number } {
    const size = self.mmapBufSize;
    if (variant.file) {
      const mfd = self.proc.memfd(size);
      return { buf: self.proc.mmap(size, { fd: mfd, shared: true }), mfd };
    }
    return { buf: self.proc.mmap(size, { shared: true, hugetlb: variant.hugepages }), mfd: -1 };
  }

  test('basic (55)', async () => {
    const { fd, ioasId, proc } = self;
    if (!variant.file) {
      // Simple one page map.
      const iova = await expectOk(ioasMap(fd, ioasId, self.buffer, P));
      await expectOk(checkMock(self.buffer, iova, P));
      return;
    }
    const iova = await expectOk(mapFile(fd, ioasId, self.mfd, 0n, P));
    await expectOk(checkMock(self.mfdBuffer, iova, P));
    const size = self.mmapBufSize;
    const mfdTmp = proc.memfd(size);
    proc.mmap(size, { fd: mfdTmp, shared: true });
    await expectErrno('EINVAL', mapFile(fd, ioasId, mfdTmp, 0n, size + 1n));
    proc.ftruncate(mfdTmp, 0);
    await expectErrno('EINVAL', mapFile(fd, ioasId, mfdTmp, 0n, size));
    proc.close(mfdTmp);
  });

  /** The all_aligns sweep; `whileMapped` runs with each area in place (57 adds a domain there). */
  async function allAligns(
    whileMapped: (buf: bigint, start: bigint, end: bigint, iova: bigint) => Promise<void>,
  ) {
    const { fd, ioasId, proc } = self;
    const bufSize = self.mmapBufSize;
    const step = variant.hugepages ? bufSize / 16n : MOCK_PGSIZE;
    const { buf, mfd } = mapBuffer();
    await expectOk(checkRefs(fd, buf, bufSize, 0));
    let maps = 0;
    for (let start = 0n; start < bufSize; start += step) {
      for (let end = variant.hugepages ? bufSize : start + MOCK_PGSIZE; end < bufSize; end += MOCK_PGSIZE) {
        const length = end - start;
        const iova = variant.file
          ? await expectOk(mapFile(fd, ioasId, mfd, start, length))
          : await expectOk(ioasMap(fd, ioasId, buf + start, length));
        await whileMapped(buf, start, end, iova);
        const pageStart = (start / P) * P;
        await expectOk(checkRefs(fd, buf + pageStart, (end / P) * P - pageStart, 1));
        await expectOk(ioasUnmap(fd, ioasId, iova, length));
        maps++;
      }
    }
    await expectOk(checkRefs(fd, buf, bufSize, 0));
    if (variant.file) proc.close(mfd);
    proc.munmap(buf, bufSize);
    // The hugepage sweep is empty in the kernel too (end starts at buf_size).
    expect(maps).toBe(variant.hugepages ? 0 : 120);
  }

  test('all_aligns (56)', async () => {
    await allAligns(async (buf, start, end, iova) => {
      await expectOk(checkMock(buf + start, iova, end - start));
    });
  });

  test('all_aligns_copy (57)', async () => {
    await allAligns(async (buf, start, end, iova) => {
      // Add and destroy a domain while the area exists.
      const old = self.hwptIds[1]!;
      const md = await expectOk(mockDomain(self.fd, self.ioasId));
      self.hwptIds[1] = md.hwptId;
      await expectOk(checkMock(buf + start, iova, end - start));
      await expectOk(destroy(self.fd, md.stdevId));
      self.hwptIds[1] = old;
    });
  });

  test('user_copy (58)', async () => {
    const { fd, proc } = self;
    const buf = variant.file ? self.mfdBuffer : self.buffer;
    const copyFlags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE;
    const mapSrc = (id: number) =>
      variant.file ? mapFile(fd, id, self.mfd, 0n, BUFFER_SIZE) : ioasMap(fd, id, buf, BUFFER_SIZE);

    // Pin the pages in an IOAS with no domains, then copy to an IOAS with domains.
    const ioasId = await ioasAlloc(fd);
    let srcIova = await expectOk(mapSrc(ioasId));
    const access = await expectOk(createAccess(fd, ioasId, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES));
    await expectOk(accessPages(fd, access, { iova: srcIova, length: BUFFER_SIZE, uptr: buf }));
    const copyTo = (src: number) =>
      copy(fd, {
        flags: copyFlags,
        dst: self.ioasId,
        src,
        length: BUFFER_SIZE,
        srcIova,
        dstIova: APERTURE_START,
      });
    await expectOk(copyTo(ioasId));
    await expectOk(checkMock(buf, APERTURE_START, BUFFER_SIZE));

    // Now replace the ioas with a new one.
    const newIoasId = await ioasAlloc(fd);
    srcIova = await expectOk(mapSrc(newIoasId));
    await expectOk(
      fd.ioctl('IOMMU_TEST_CMD', {
        op: IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
        id: access,
        access_replace_ioas: { ioas_id: newIoasId },
      }),
    );
    // Destroy the old ioas and clean up the copied mapping.
    await expectOk(ioasUnmap(fd, self.ioasId, APERTURE_START, BUFFER_SIZE));
    await expectOk(destroy(fd, ioasId));

    // Then run the same test again with the new ioas.
    const item = await expectOk(accessPages(fd, access, { iova: srcIova, length: BUFFER_SIZE, uptr: buf }));
    await expectOk(copyTo(newIoasId));
    await expectOk(checkMock(buf, APERTURE_START, BUFFER_SIZE));
    await expectOk(destroyAccessPages(fd, access, item));
    proc.close(access);
    await expectOk(destroy(fd, newIoasId));
  });
});
