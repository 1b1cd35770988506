/**
 * The selftest's in-kernel access ops (spec §5 ops 4–9, 11): CREATE_ACCESS, ACCESS_PAGES,
 * DESTROY_ACCESS_PAGES, ACCESS_RW, SET_TEMP_MEMORY_LIMIT, ACCESS_REPLACE_IOAS, MD_CHECK_REFS;
 * catalogue 40–42 and 58.
 */
import { describe, expect, test } from 'vitest';
import {
  IOCTLS,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_TEST_OP_ACCESS_PAGES,
  IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
  IOMMU_TEST_OP_ACCESS_RW,
  IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
  IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
  type Iommufd,
  iommu_test_cmd_raw,
  MOCK_ACCESS_RW_SLOW_PATH,
  MOCK_ACCESS_RW_WRITE,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
  MOCK_FLAGS_ACCESS_SYZ,
  MOCK_FLAGS_ACCESS_WRITE,
} from '../../../index.ts';
import { testTempMemoryLimit } from '../../../vendors/mock/test-ops/access.ts';
import {
  MOCK_APERTURE_START as A,
  accessPages,
  B,
  checkMap,
  checkRefs,
  createAccess,
  expectErrno,
  MAP_RW,
  map,
  mapFixed,
  mockDomain,
  P,
  pattern,
  setup,
  teardown,
} from './selftest-fixture.ts';

const PIN = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
const MiB = 1n << 20n;

function destroyAccessPages(fd: Iommufd, accessFd: number, access_pages_id: number) {
  return fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
    id: accessFd,
    destroy_access_pages: { access_pages_id },
  });
}

function accessRw(fd: Iommufd, accessFd: number, iova: bigint, length: bigint, uptr: bigint, flags = 0) {
  return fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_ACCESS_RW,
    id: accessFd,
    access_rw: { iova, length, uptr, flags },
  });
}

function replaceIoas(fd: Iommufd, accessFd: number, ioas_id: number) {
  return fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
    id: accessFd,
    access_replace_ioas: { ioas_id },
  });
}

async function nextId(fd: Iommufd): Promise<number> {
  const id = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
  await fd.ioctl('IOMMU_DESTROY', { id });
  return id;
}

const IOAS_VARIANTS = [
  { name: 'no_domain', mockDomain: false },
  { name: 'mock_domain', mockDomain: true },
];

describe.each(IOAS_VARIANTS)('iommufd_ioas/$name', ({ mockDomain: withDomain }) => {
  test('40 access_pin_unmap: UNMAP tells the access to unpin, removing its item', async () => {
    const self = await setup({ mockDomain: withDomain });
    const { fd, ioasId, buffer } = self;
    const afd = await createAccess(fd, ioasId, PIN);
    await mapFixed(fd, ioasId, buffer, B, A);
    const item = await accessPages(fd, afd, A, B, buffer);
    const unmap = await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioasId, iova: A, length: B });
    expect(unmap.length).toBe(B);
    await expectErrno('ENOENT', destroyAccessPages(fd, afd, item));
    self.proc.close(afd);
    await teardown(self);
  });

  test('41 access_pin: single, double, and across adding a domain, for 1..15 pages', async () => {
    const self = await setup({ mockDomain: withDomain });
    const { fd, ioasId, buffer } = self;
    const afd = await createAccess(fd, ioasId, PIN);
    for (let npages = 1n; npages < B / P; npages++) {
      const length = npages * P;
      await mapFixed(fd, ioasId, buffer, B, A);
      await destroyAccessPages(fd, afd, await accessPages(fd, afd, A, length, buffer));
      const first = await accessPages(fd, afd, A, length, buffer);
      const second = await accessPages(fd, afd, A, length, buffer);
      expect(second).toBe(first + 1);
      await destroyAccessPages(fd, afd, second);
      await destroyAccessPages(fd, afd, first);
      const item = await accessPages(fd, afd, A, length, buffer);
      const md = await mockDomain(fd, ioasId);
      await checkMap(fd, md.hwptId, A, B, buffer);
      await fd.ioctl('IOMMU_DESTROY', { id: md.stdevId });
      await destroyAccessPages(fd, afd, item);
      await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioasId, iova: A, length: B });
    }
    self.proc.close(afd);
    await teardown(self);
  });

  test('42 access_rw: 1..63 byte reads and writes around a page boundary, fast and slow', async () => {
    const self = await setup({ mockDomain: withDomain });
    const { fd, ioasId, buffer, proc } = self;
    const afd = await createAccess(fd, ioasId, 0);
    const iova = await map(fd, ioasId, buffer, B);
    const tmp = proc.mmap(P);
    const cmdVa = proc.mmap(P);
    const raw = (fields: Record<string, unknown>) => {
      proc.write(
        cmdVa,
        iommu_test_cmd_raw.encode({
          size: iommu_test_cmd_raw.sizeof,
          op: IOMMU_TEST_OP_ACCESS_RW,
          id: afd,
          ...fields,
        }),
      );
      return fd.ioctlRaw(IOCTLS.IOMMU_TEST_CMD.cmd, cmdVa);
    };
    let seed = 1;
    for (const def of [0, MOCK_ACCESS_RW_SLOW_PATH]) {
      proc.write(buffer, pattern(Number(B), seed++));
      for (let at = iova + P - 50n; at < iova + P + 50n; at += 17n) {
        for (let length = 1; length < 64; length++) {
          await raw({ u: { access_rw: { iova: at, length: BigInt(length), uptr: tmp, flags: def } } });
          expect(proc.read(tmp, length)).toEqual(proc.read(buffer + (at - iova), length));
          proc.write(tmp, pattern(length, seed++));
          const flags = def | MOCK_ACCESS_RW_WRITE;
          await raw({ u: { access_rw: { iova: at, length: BigInt(length), uptr: tmp, flags } } });
          expect(proc.read(buffer + (at - iova), length)).toEqual(proc.read(tmp, length));
        }
      }
      const whole = proc.mmap(B);
      await accessRw(fd, afd, iova, B, whole, def);
      expect(proc.read(whole, Number(B))).toEqual(proc.read(buffer, Number(B)));
    }
    await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioasId, iova, length: B });
    proc.close(afd);
    await teardown(self);
  });
});

describe('IOMMU_TEST_OP_CREATE_ACCESS', () => {
  test('unknown flags are EOPNOTSUPP, a missing IOAS ENOENT; neither leaves an fd or an ID', async () => {
    const { fd, ioasId, proc } = await setup();
    const fds = proc.files.size;
    await expectErrno('EOPNOTSUPP', createAccess(fd, ioasId, 2));
    await expectErrno('ENOENT', createAccess(fd, 99, PIN));
    await expectErrno('ENOENT', createAccess(fd, 0, 0));
    expect(proc.files.size).toBe(fds);
    expect(await nextId(fd)).toBe(ioasId + 1);
  });

  test('returns an fd, consumes an object ID, and pins the IOAS (EBUSY) until the fd closes', async () => {
    const self = await setup();
    const { fd, ioasId, proc } = self;
    const afd = await createAccess(fd, ioasId, PIN);
    expect(proc.file(afd).kind).toBe('iommufd-selftest-access');
    const accessId = ioasId + 1;
    expect(fd.ctx.objects.tryGet(accessId)?.type).toBe('ACCESS');
    await expectErrno('EBUSY', fd.ioctl('IOMMU_DESTROY', { id: accessId }));
    await expectErrno('EBUSY', fd.ioctl('IOMMU_DESTROY', { id: ioasId }));
    expect(await nextId(fd)).toBe(accessId + 1);
    proc.close(afd);
    expect(fd.ctx.objects.tryGet(accessId)).toBeUndefined();
    await fd.ioctl('IOMMU_DESTROY', { id: ioasId });
    await teardown(self);
  });

  test('a pin access raises the IOAS alignment: misaligned areas make it EADDRINUSE, cleanly', async () => {
    const self = await setup();
    const { fd, ioasId, proc, buffer } = self;
    const flags = MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA;
    await fd.ioctl('IOMMU_IOAS_MAP', { flags, ioas_id: ioasId, user_va: buffer, length: 2048n, iova: 0n });
    const fds = proc.files.size;
    await expectErrno('EADDRINUSE', createAccess(fd, ioasId, PIN));
    expect(proc.files.size).toBe(fds);
    expect(await nextId(fd)).toBe(ioasId + 1);
    // An rw-only access needs no alignment.
    const afd = await createAccess(fd, ioasId, 0);
    proc.close(afd);
    await teardown(self);
  });

  test('closing the iommufd first keeps the ctx until the access fd closes', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, ioasId, proc, buffer } = self;
    await mapFixed(fd, ioasId, buffer, B, A);
    const afd = await createAccess(fd, ioasId, PIN);
    await accessPages(fd, afd, A, B, buffer);
    await fd.close();
    expect(fd.ctx.closed).toBe(false);
    proc.close(afd);
    await fd.file.closed;
    expect(fd.ctx.closed).toBe(true);
    const fd2 = proc.openIommufd();
    await checkRefs(fd2, buffer, B, 0);
  });
});

describe('IOMMU_TEST_OP_ACCESS_PAGES / DESTROY_ACCESS_PAGES', () => {
  async function pinSetup(prot = MAP_RW) {
    const self = await setup({ mockDomain: true });
    const flags = prot | IOMMU_IOAS_MAP_FIXED_IOVA;
    await self.fd.ioctl('IOMMU_IOAS_MAP', {
      flags,
      ioas_id: self.ioasId,
      user_va: self.buffer,
      length: B,
      iova: A,
    });
    const afd = await createAccess(self.fd, self.ioasId, PIN);
    return { ...self, afd };
  }

  test('check order: length > 16 MiB ENOMEM, flags EOPNOTSUPP, fd EBADFD, non-pin access EOPNOTSUPP', async () => {
    const { fd, afd, ioasId, buffer } = await pinSetup();
    await expectErrno('ENOMEM', accessPages(fd, 12345, A, 16n * MiB + 1n, buffer, 2));
    await expectErrno('EOPNOTSUPP', accessPages(fd, 12345, A, 16n * MiB, buffer, 2));
    await expectErrno('EBADFD', accessPages(fd, 12345, A, P, buffer));
    await expectErrno('EBADFD', accessPages(fd, fd.fd, A, P, buffer));
    const rw = await createAccess(fd, ioasId, 0);
    await expectErrno('EOPNOTSUPP', accessPages(fd, rw, A, P, buffer));
    expect(await accessPages(fd, afd, A, P, buffer)).toBe(0);
  });

  test('pin errors: hole ENOENT, misaligned EINVAL, zero length EINVAL, write to read-only EPERM', async () => {
    const { fd, afd, buffer } = await pinSetup(IOMMU_IOAS_MAP_READABLE);
    await expectErrno('ENOENT', accessPages(fd, afd, A - P, 2n * P, buffer));
    await expectErrno('ENOENT', accessPages(fd, afd, A + B - P, 2n * P, 0n));
    await expectErrno('EINVAL', accessPages(fd, afd, A + 100n, P, 0n));
    await expectErrno('EINVAL', accessPages(fd, afd, A, 0n, 0n));
    await expectErrno('EPERM', accessPages(fd, afd, A, P, buffer, MOCK_FLAGS_ACCESS_WRITE));
    expect(await accessPages(fd, afd, A, P, buffer)).toBe(0);
  });

  test('uptr must be the pinned memory: EBADE on a mismatch, EFAULT if unmapped; NULL skips the check', async () => {
    const self = await pinSetup();
    const { fd, afd, buffer, proc } = self;
    const other = proc.mmap(B);
    proc.write(other, new Uint8Array(Number(B)));
    await expectErrno('EBADE', accessPages(fd, afd, A, 2n * P, other));
    await expectErrno('EBADE', accessPages(fd, afd, A, 2n * P, buffer + P));
    await expectErrno('EFAULT', accessPages(fd, afd, A, P, 0x1000n));
    // Failed pins are released: the buffer carries only the domain's pin.
    await checkRefs(fd, buffer, B, 1);
    expect(await accessPages(fd, afd, A + P, P, 0n)).toBe(0);
    expect(await accessPages(fd, afd, A + P, P, buffer + P)).toBe(1);
  });

  test('items are numbered from 0 and never reused; DESTROY of an unknown item is ENOENT', async () => {
    const { fd, afd, buffer } = await pinSetup();
    expect(await accessPages(fd, afd, A, P, buffer)).toBe(0);
    expect(await accessPages(fd, afd, A, P, buffer)).toBe(1);
    await destroyAccessPages(fd, afd, 0);
    await expectErrno('ENOENT', destroyAccessPages(fd, afd, 0));
    await expectErrno('ENOENT', destroyAccessPages(fd, afd, 7));
    expect(await accessPages(fd, afd, A, P, buffer)).toBe(2);
    await expectErrno('EBADFD', destroyAccessPages(fd, 999, 1));
    await destroyAccessPages(fd, afd, 1);
  });

  test('an item blocks nothing but is dropped by an UNMAP that touches it, not by others', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, ioasId, buffer } = self;
    await mapFixed(fd, ioasId, buffer, 4n * P, A);
    await mapFixed(fd, ioasId, buffer + 4n * P, 4n * P, A + 4n * P);
    const afd = await createAccess(fd, ioasId, PIN);
    const item = await accessPages(fd, afd, A + P, P, buffer + P);
    await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioasId, iova: A + 4n * P, length: 4n * P });
    await destroyAccessPages(fd, afd, item);
    const again = await accessPages(fd, afd, A + P, P, buffer + P);
    await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioasId, iova: A, length: 4n * P });
    await expectErrno('ENOENT', destroyAccessPages(fd, afd, again));
    self.proc.close(afd);
    await teardown(self);
  });

  test('MOCK_FLAGS_ACCESS_SYZ takes (nth area, offset) for the IOVA', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, ioasId, buffer } = self;
    await mapFixed(fd, ioasId, buffer, 2n * P, A);
    await mapFixed(fd, ioasId, buffer + 2n * P, 2n * P, A + 8n * P);
    const afd = await createAccess(fd, ioasId, PIN);
    const syz = (nth: bigint, offset: bigint) => nth | (offset << 32n);
    await accessPages(fd, afd, syz(1n, P), P, buffer + 3n * P, MOCK_FLAGS_ACCESS_SYZ);
    await expectErrno('EBADE', accessPages(fd, afd, syz(0n, P), P, buffer, MOCK_FLAGS_ACCESS_SYZ));
    // No third area: IOVA 0, which is below the aperture and unmapped.
    await expectErrno('ENOENT', accessPages(fd, afd, syz(2n, 0n), P, 0n, MOCK_FLAGS_ACCESS_SYZ));
  });
});

describe('IOMMU_TEST_OP_ACCESS_RW', () => {
  async function rwSetup(prot = MAP_RW) {
    const self = await setup();
    const flags = prot | IOMMU_IOAS_MAP_FIXED_IOVA;
    await self.fd.ioctl('IOMMU_IOAS_MAP', {
      flags,
      ioas_id: self.ioasId,
      user_va: self.buffer,
      length: 2n * P,
      iova: 0n,
    });
    const afd = await createAccess(self.fd, self.ioasId, 0);
    const tmp = self.proc.mmap(P);
    return { ...self, afd, tmp };
  }

  test('check order: length > 16 MiB ENOMEM, flags EOPNOTSUPP, fd EBADFD', async () => {
    const { fd, tmp } = await rwSetup();
    await expectErrno('ENOMEM', accessRw(fd, 999, 0n, 16n * MiB + 1n, tmp, 2));
    await expectErrno('EOPNOTSUPP', accessRw(fd, 999, 0n, 8n, tmp, 2));
    await expectErrno('EBADFD', accessRw(fd, 999, 0n, 8n, tmp));
  });

  test('zero length EINVAL, a hole ENOENT, a write to a read-only area EPERM', async () => {
    const { fd, afd, tmp } = await rwSetup(IOMMU_IOAS_MAP_READABLE);
    await expectErrno('EINVAL', accessRw(fd, afd, 0n, 0n, tmp));
    await expectErrno('ENOENT', accessRw(fd, afd, 2n * P - 4n, 8n, tmp));
    await expectErrno('EPERM', accessRw(fd, afd, 0n, 8n, tmp, MOCK_ACCESS_RW_WRITE));
  });

  test('an unreadable user buffer fails a write with EFAULT before the IOAS changes', async () => {
    const { fd, afd, buffer, proc } = await rwSetup(IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE);
    const before = proc.read(buffer, 16);
    await expectErrno('EFAULT', accessRw(fd, afd, 0n, 16n, 0x1000n, MOCK_ACCESS_RW_WRITE));
    expect(proc.read(buffer, 16)).toEqual(before);
    await expectErrno('EFAULT', accessRw(fd, afd, 0n, 16n, 0x1000n));
  });

  test('reads and writes MAP_FILE memory too', async () => {
    const { fd, proc, ioasId } = await setup();
    const mfd = proc.memfd(2n * P);
    const flags = MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA;
    await fd.ioctl('IOMMU_IOAS_MAP_FILE', {
      flags,
      ioas_id: ioasId,
      fd: mfd,
      start: 0n,
      length: 2n * P,
      iova: 0n,
    });
    const afd = await createAccess(fd, ioasId, 0);
    const tmp = proc.mmap(P);
    proc.write(tmp, pattern(100, 3));
    await accessRw(fd, afd, P - 50n, 100n, tmp, MOCK_ACCESS_RW_WRITE);
    expect(proc.memfdInode(mfd).read(P - 50n, 100)).toEqual(pattern(100, 3));
  });
});

describe('IOMMU_TEST_OP_ACCESS_REPLACE_IOAS', () => {
  test('58 user_copy: pin in a domain-less IOAS, copy, move the access, repeat', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, ioasId, buffer } = self;
    const ioas2 = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
    let src = await map(fd, ioas2, buffer, B);
    const afd = await createAccess(fd, ioas2, PIN);
    await accessPages(fd, afd, src, B, buffer);
    const copy = (src_ioas_id: number, src_iova: bigint) =>
      fd.ioctl('IOMMU_IOAS_COPY', {
        flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE,
        dst_ioas_id: ioasId,
        src_ioas_id,
        length: B,
        dst_iova: A,
        src_iova,
      });
    await copy(ioas2, src);
    await checkMap(fd, self.hwptId, A, B, buffer);
    const ioas3 = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
    src = await map(fd, ioas3, buffer, B);
    await replaceIoas(fd, afd, ioas3);
    await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioasId, iova: A, length: B });
    await fd.ioctl('IOMMU_DESTROY', { id: ioas2 });
    const item = await accessPages(fd, afd, src, B, buffer);
    await copy(ioas3, src);
    await checkMap(fd, self.hwptId, A, B, buffer);
    await destroyAccessPages(fd, afd, item);
    self.proc.close(afd);
    await fd.ioctl('IOMMU_DESTROY', { id: ioas3 });
    await teardown(self);
  });

  test('a missing IOAS or a bad fd changes nothing; the old pins go with a move', async () => {
    const self = await setup();
    const { fd, ioasId, buffer } = self;
    await mapFixed(fd, ioasId, buffer, B, 0n);
    const afd = await createAccess(fd, ioasId, PIN);
    const item = await accessPages(fd, afd, 0n, B, buffer);
    await expectErrno('EBADFD', replaceIoas(fd, 999, ioasId));
    await expectErrno('ENOENT', replaceIoas(fd, afd, 999));
    await expectErrno('EBUSY', fd.ioctl('IOMMU_DESTROY', { id: ioasId }));
    // Replacing with the same IOAS is a no-op that keeps the item.
    await replaceIoas(fd, afd, ioasId);
    const other = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
    await replaceIoas(fd, afd, other);
    await expectErrno('ENOENT', destroyAccessPages(fd, afd, item));
    await fd.ioctl('IOMMU_DESTROY', { id: ioasId });
    await expectErrno('EBUSY', fd.ioctl('IOMMU_DESTROY', { id: other }));
    self.proc.close(afd);
    await teardown(self);
  });

  test('EADDRINUSE if the new IOAS has areas a pin access cannot honour; the access stays', async () => {
    const self = await setup();
    const { fd, ioasId, buffer } = self;
    const afd = await createAccess(fd, ioasId, PIN);
    const other = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
    const flags = MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA;
    await fd.ioctl('IOMMU_IOAS_MAP', { flags, ioas_id: other, user_va: buffer, length: 2048n, iova: 0n });
    await expectErrno('EADDRINUSE', replaceIoas(fd, afd, other));
    await expectErrno('EBUSY', fd.ioctl('IOMMU_DESTROY', { id: ioasId }));
    await fd.ioctl('IOMMU_DESTROY', { id: other });
    self.proc.close(afd);
    await teardown(self);
  });
});

describe('IOMMU_TEST_OP_MD_CHECK_REFS', () => {
  test('counts long-term pins per page: none, a domain, a second pages object; accesses share', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, ioasId, buffer } = self;
    await checkRefs(fd, buffer, B, 0);
    await expectErrno('EIO', checkRefs(fd, buffer, B, 1));
    await mapFixed(fd, ioasId, buffer, B, A);
    await checkRefs(fd, buffer, B, 1);
    const afd = await createAccess(fd, ioasId, PIN);
    await accessPages(fd, afd, A, B, buffer);
    await checkRefs(fd, buffer, B, 1);
    await mapFixed(fd, ioasId, buffer, 2n * P, A + B);
    await checkRefs(fd, buffer, 2n * P, 2);
    await expectErrno('EIO', checkRefs(fd, buffer, B, 2));
    await checkRefs(fd, buffer + 2n * P, B - 2n * P, 1);
    self.proc.close(afd);
    await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioasId, iova: 0n, length: (1n << 64n) - 1n });
    await checkRefs(fd, buffer, B, 0);
    await teardown(self);
  });

  test('a map without a domain pins nothing', async () => {
    const self = await setup();
    await mapFixed(self.fd, self.ioasId, self.buffer, B, A);
    await checkRefs(self.fd, self.buffer, B, 0);
    await teardown(self);
  });

  test('misalignment is EINVAL, an unmapped page EFAULT', async () => {
    const { fd, buffer } = await setup();
    await expectErrno('EINVAL', checkRefs(fd, buffer + 1n, P, 0));
    await expectErrno('EINVAL', checkRefs(fd, buffer, P + 1n, 0));
    await expectErrno('EFAULT', checkRefs(fd, 0x1000n, P, 0));
  });

  test('MAP_FILE pins count on the memfd pages behind a mapping of the file', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, ioasId, proc } = self;
    const mfd = proc.memfd(B);
    const va = proc.mmap(B, { fd: mfd, shared: true });
    proc.write(va, pattern(Number(B), 9));
    const flags = MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA;
    await fd.ioctl('IOMMU_IOAS_MAP_FILE', { flags, ioas_id: ioasId, fd: mfd, start: 0n, length: B, iova: A });
    await checkRefs(fd, va, B, 1);
    await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioasId, iova: A, length: B });
    await checkRefs(fd, va, B, 0);
  });

  test('compound (hugetlb) pages are not checked', async () => {
    const { fd, proc } = await setup();
    const huge = proc.mmap(2n * MiB, { hugetlb: true });
    await checkRefs(fd, huge, 4n * P, 5);
  });
});

describe('IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT', () => {
  test('below 12 is EINVAL and keeps the limit; the default is 65536', async () => {
    const { fd, host } = await setup({ ioas: false });
    const set = (limit: number) =>
      fd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT, memory_limit: { limit } });
    expect(testTempMemoryLimit(host.env)).toBe(65536);
    await expectErrno('EINVAL', set(11));
    await expectErrno('EINVAL', set(0));
    expect(testTempMemoryLimit(host.env)).toBe(65536);
    await set(12);
    expect(testTempMemoryLimit(host.env)).toBe(12);
    await set(65536);
    expect(testTempMemoryLimit(host.env)).toBe(65536);
  });
});

describe('access ops against a non-selftest fd', () => {
  test('ACCESS_PAGES on an id that is an fd of another kind is EBADFD', async () => {
    const { fd, proc, buffer } = await setup();
    const mfd = proc.memfd(P);
    await expectErrno('EBADFD', accessPages(fd, mfd, A, P, buffer));
    await expectErrno(
      'EBADFD',
      fd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_ACCESS_PAGES, id: mfd, access_pages: { length: P } }),
    );
  });
});
