/**
 * Selftest catalogue §6 in-kernel access cases access_pin_unmap (40) and access_pin (41) on FIXTURE
 * iommufd_ioas × variants, and own cases for accesses (§3 alignment, §5 CREATE_ACCESS/ACCESS_PAGES).
 */
import { describe, expect, test } from 'vitest';
import { MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES } from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { BUFFER_SIZE, ioasMap, ioasUnmap, mockDomain, PAGE_SIZE } from './helpers/fixture.ts';
import {
  APERTURE_START,
  accessPages,
  checkMockIova,
  createAccess,
  destroy,
  destroyAccessPages,
  expectErrnoUnchanged,
  IOAS_VARIANTS,
  ioasAlloc,
  iovaRanges,
  MOCK_PGSIZE,
  useIoasFixture,
} from './helpers/more.ts';

const P = PAGE_SIZE;

describe.each(IOAS_VARIANTS)('iommufd_ioas.$name access', (variant) => {
  const self = useIoasFixture(variant);

  test('access_pin_unmap (40)', async () => {
    const { fd, ioasId, buffer } = self();
    const access = await createAccess(fd, ioasId, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
    await expectOk(ioasMap(fd, ioasId, buffer, BUFFER_SIZE, APERTURE_START));
    const item = await expectOk(
      accessPages(fd, access, { iova: APERTURE_START, length: BUFFER_SIZE, uptr: buffer }),
    );
    // Trigger the unmap op: the access is told to unpin, and the kernel removed the item for us.
    expect(await expectOk(ioasUnmap(fd, ioasId, APERTURE_START, BUFFER_SIZE))).toBe(BUFFER_SIZE);
    await expectErrno('ENOENT', destroyAccessPages(fd, access, item));
    fd.process.close(access);
  });

  test('access_pin (41)', async () => {
    const { fd, ioasId, buffer } = self();
    const access = await createAccess(fd, ioasId, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
    for (let npages = 1n; npages < BUFFER_SIZE / P; npages++) {
      const pin = { iova: APERTURE_START, length: npages * P, uptr: buffer };
      // Single map/unmap.
      await expectOk(ioasMap(fd, ioasId, buffer, BUFFER_SIZE, APERTURE_START));
      await expectOk(destroyAccessPages(fd, access, await expectOk(accessPages(fd, access, pin))));
      // Double user.
      const first = await expectOk(accessPages(fd, access, pin));
      const second = await expectOk(accessPages(fd, access, pin));
      await expectOk(destroyAccessPages(fd, access, second));
      await expectOk(destroyAccessPages(fd, access, first));
      // Add/remove a domain with a user.
      const item = await expectOk(accessPages(fd, access, pin));
      const md = await expectOk(mockDomain(fd, ioasId));
      await expectOk(checkMockIova(fd, [md.hwptId], buffer, APERTURE_START, BUFFER_SIZE));
      await expectOk(destroy(fd, md.stdevId));
      await expectOk(destroyAccessPages(fd, access, item));
      await expectOk(ioasUnmap(fd, ioasId, APERTURE_START, BUFFER_SIZE));
    }
    fd.process.close(access);
  });
});

describe('in-kernel access rules (§3, §5)', () => {
  const self = useIoasFixture(IOAS_VARIANTS[0]!);

  test('CREATE_ACCESS consumes an object ID; unknown flags → EOPNOTSUPP and nothing is created', async () => {
    const { fd, ioasId } = self();
    await expectErrnoUnchanged(self(), [ioasId], 'EOPNOTSUPP', () => createAccess(fd, ioasId, 2));
    await expectErrnoUnchanged(self(), [ioasId], 'ENOENT', () => createAccess(fd, 99, 0));
    const access = await createAccess(fd, ioasId, 0);
    expect(fd.ctx.liveObjects().map((o) => `${o.type}#${o.id}`)).toEqual(['IOAS#1', 'ACCESS#2']);
    expect(await ioasAlloc(fd)).toBe(3);
    // The access holds the IOAS; closing its fd releases both the object and its ID.
    await expectErrno('EBUSY', destroy(fd, ioasId));
    fd.process.close(access);
    expect(await ioasAlloc(fd)).toBe(2);
  });

  test('a pinning access raises the IOAS alignment to PAGE_SIZE, an rw-only one does not', async () => {
    const { fd, ioasId, buffer } = self();
    const rwOnly = await createAccess(fd, ioasId, 0);
    expect((await iovaRanges(fd, ioasId)).alignment).toBe(1n);
    const pin = await createAccess(fd, ioasId, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
    expect((await iovaRanges(fd, ioasId)).alignment).toBe(P);
    await expectErrno('EINVAL', ioasMap(fd, ioasId, buffer, MOCK_PGSIZE));
    fd.process.close(pin);
    expect((await iovaRanges(fd, ioasId)).alignment).toBe(1n);
    fd.process.close(rwOnly);
  });

  test('a pinning access cannot join an IOAS with a misaligned area (EADDRINUSE, nothing created)', async () => {
    const { fd, ioasId, buffer } = self();
    await ioasMap(fd, ioasId, buffer + MOCK_PGSIZE, P, P);
    await expectErrnoUnchanged(self(), [ioasId], 'EADDRINUSE', () =>
      createAccess(fd, ioasId, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES),
    );
  });

  test('ACCESS_PAGES needs a pinning access and a fully mapped range', async () => {
    const { fd, ioasId, buffer } = self();
    const rwOnly = await createAccess(fd, ioasId, 0);
    await ioasMap(fd, ioasId, buffer, 4n * P, APERTURE_START);
    const pin = { iova: APERTURE_START, length: 4n * P, uptr: buffer };
    await expectErrno('EOPNOTSUPP', accessPages(fd, rwOnly, pin));
    const access = await createAccess(fd, ioasId, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
    await expectErrnoUnchanged(self(), [ioasId], 'ENOENT', () =>
      accessPages(fd, access, { ...pin, length: 5n * P }),
    );
    await expectErrno('ENOMEM', accessPages(fd, access, { ...pin, length: 16n * 1024n * 1024n + P }));
    const item = await expectOk(accessPages(fd, access, pin));
    expect(fd.process.mm.counters.pinnedPages).toBe(4n);
    await expectOk(destroyAccessPages(fd, access, item));
    expect(fd.process.mm.counters.pinnedPages).toBe(0n);
    await expectErrno('ENOENT', destroyAccessPages(fd, access, item));
    fd.process.close(access);
    fd.process.close(rwOnly);
  });
});
