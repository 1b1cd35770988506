/**
 * Own cases for the check order of IOMMU_IOAS_MAP (§2.5), IOMMU_IOAS_UNMAP (§2.7) and IOMMU_IOAS_COPY
 * (§2.6): each case breaks two rules and expects the earlier one's errno, and every failure must
 * leave objects, IDs, IOVA state and pinned pages exactly as they were.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  createFarm,
  IOMMU_IOAS_MAP_FIXED_IOVA as FIXED,
  IOMMU_IOAS_MAP_READABLE as READABLE,
  IOMMU_IOAS_MAP_WRITEABLE as WRITEABLE,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import {
  BUFFER_SIZE,
  closeAndCheck,
  ioasMap,
  ioasUnmap,
  type MockDomain,
  mockDomain,
  openSelftest,
  PAGE_SIZE,
  RW,
  type Selftest,
} from './helpers/fixture.ts';
import {
  APERTURE_START,
  addReserved,
  beforeGuardPage,
  checkMockIova,
  copy,
  expectErrnoUnchanged,
  ioasAlloc,
  rawCall,
  U64_MAX,
} from './helpers/more.ts';

const P = PAGE_SIZE;
const A = APERTURE_START;
const BAD_ID = 999;

describe('IOMMU_IOAS_MAP / UNMAP / COPY check order', () => {
  let self: Selftest;
  let plain: number; // no domain
  let dom: number; // one mock domain
  let md: MockDomain;
  beforeEach(async () => {
    self = openSelftest();
    plain = await ioasAlloc(self.fd);
    dom = await ioasAlloc(self.fd);
    md = await mockDomain(self.fd, dom);
  });
  afterEach(async () => {
    await closeAndCheck(self);
  });
  const map = (f: Record<string, unknown>) =>
    self.fd.ioctl('IOMMU_IOAS_MAP', { flags: RW, ioas_id: plain, user_va: self.buffer, length: P, ...f });
  const unmap = (f: Record<string, unknown>) => self.fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: plain, ...f });
  const copyRaw = (f: Record<string, unknown>) =>
    self.fd.ioctl('IOMMU_IOAS_COPY', { flags: RW, src_ioas_id: plain, dst_ioas_id: plain, length: P, ...f });
  const fails = (errno: Parameters<typeof expectErrnoUnchanged>[2], call: () => Promise<unknown>) =>
    expectErrnoUnchanged(self, [plain, dom], errno, call);

  test('MAP: flags/__reserved → EOPNOTSUPP before anything else', async () => {
    await fails('EOPNOTSUPP', () => map({ flags: RW | 8, iova: U64_MAX, ioas_id: BAD_ID }));
    await fails('EOPNOTSUPP', () => map({ flags: 8 }));
    await fails('EOPNOTSUPP', () =>
      rawCall(self.fd, 'IOMMU_IOAS_MAP', { flags: 0, ioas_id: BAD_ID, __reserved: 1, length: U64_MAX }),
    );
  });

  test('MAP: iova/length >= ULONG_MAX → EOVERFLOW before the R/W and IOAS checks', async () => {
    await fails('EOVERFLOW', () => map({ flags: 0, iova: U64_MAX, ioas_id: BAD_ID }));
    await fails('EOVERFLOW', () => map({ flags: FIXED, length: U64_MAX, ioas_id: BAD_ID }));
  });

  test('MAP: neither R nor W → EINVAL before the IOAS lookup; then ENOENT before the length checks', async () => {
    await fails('EINVAL', () => map({ flags: FIXED, ioas_id: BAD_ID }));
    await fails('ENOENT', () => map({ ioas_id: BAD_ID, length: 0n }));
    await fails('ENOENT', () => map({ ioas_id: md.hwptId }));
    await fails('ENOENT', () => map({ ioas_id: 0 }));
  });

  test('MAP: page-object rules (length 0, user_va overflow, too long) come before IOVA rules', async () => {
    await ioasMap(self.fd, plain, self.buffer, P, 0n);
    await fails('EINVAL', () => map({ flags: RW | FIXED, iova: 0n, length: 0n }));
    await fails('EOVERFLOW', () =>
      map({ flags: RW | FIXED, iova: 0n, user_va: U64_MAX - P, length: 2n * P }),
    );
    await fails('EINVAL', () => map({ user_va: 0n, length: U64_MAX - 1n }));
    // Both too long and overflowing: the kernel checks user_va + length first (iopt_alloc_user_pages).
    await fails('EOVERFLOW', () => map({ user_va: 2n * P, length: U64_MAX - 2n }));
  });

  test('MAP: length alignment, then FIXED alignment, overflow, reserved, existing area', async () => {
    await ioasMap(self.fd, dom, self.buffer, P, A);
    const onDom = (f: Record<string, unknown>) => map({ ioas_id: dom, flags: RW | FIXED, ...f });
    // Misaligned length wins over a clash with the existing area.
    await fails('EINVAL', () => onDom({ iova: A, length: 1000n }));
    // Misaligned iova wins over the clash.
    await fails('EINVAL', () => onDom({ iova: A + 1024n, length: 2048n }));
    // An overflowing end wins over the reserved range above the aperture.
    await fails('EOVERFLOW', () => onDom({ iova: U64_MAX - P + 1n, length: 2n * P }));
    // Reserved wins over an existing area.
    await addReserved(self.fd, plain, 2n * P, P);
    await ioasMap(self.fd, plain, self.buffer, P, P);
    await fails('EINVAL', () => map({ flags: RW | FIXED, iova: P, length: 2n * P }));
    await fails('EEXIST', () => map({ flags: RW | FIXED, iova: 0n, length: 2n * P }));
    // The area's sub-page offset must honour the alignment too.
    await fails('EINVAL', () => onDom({ iova: A + 4n * P, user_va: self.buffer + 1024n, length: 2048n }));
    // On success the iova is written back; FIXED keeps it.
    expect((await expectOk(onDom({ iova: A + 4n * P, length: P }))).iova).toBe(A + 4n * P);
  });

  test('MAP fill failures roll back: EFAULT part way through, or on the first page', async () => {
    const va = beforeGuardPage(self.proc, P);
    self.proc.write(va, new Uint8Array(Number(P)).fill(1));
    await fails('EFAULT', () => map({ ioas_id: dom, user_va: va, length: 2n * P }));
    await fails('EFAULT', () => map({ ioas_id: dom, user_va: 1n << 31n, length: P }));
    // Without a domain nothing is pinned at MAP time: the same pointers map.
    await expectOk(map({ user_va: va, length: 2n * P }));
    expect(self.proc.mm.counters.pinnedPages).toBe(0n);
  });

  test('MAP: RLIMIT_MEMLOCK → ENOMEM with nothing pinned or charged', async () => {
    const farm = createFarm({ seed: 3 });
    const proc = farm
      .addHost({ name: 'h1', selftest: true })
      .spawnProcess({ name: 'u', privileged: false, memlockLimit: 8n * P });
    const fd = proc.openIommufd();
    const buf = proc.mmap(BUFFER_SIZE, { shared: true });
    proc.write(buf, new Uint8Array(Number(BUFFER_SIZE)).fill(2));
    const ioas = await ioasAlloc(fd);
    await mockDomain(fd, ioas);
    const st = { farm, host: proc.host, proc, fd, buffer: buf };
    await expectErrnoUnchanged(st, [ioas], 'ENOMEM', () => ioasMap(fd, ioas, buf, BUFFER_SIZE));
    await expectOk(ioasMap(fd, ioas, buf, 8n * P));
    expect(proc.user.lockedPages).toBe(8n);
    await expectErrnoUnchanged(st, [ioas], 'ENOMEM', () => ioasMap(fd, ioas, buf + 8n * P, P));
    // The IOAS without a domain accepts the map; the attach that would pin it fails cleanly.
    const other = await ioasAlloc(fd);
    await ioasMap(fd, other, buf + 8n * P, 8n * P, A);
    await expectErrnoUnchanged(st, [ioas, other], 'ENOMEM', () => mockDomain(fd, other));
    await closeAndCheck(st);
  });

  test('a domain attach pins what MAP did not, and fails with EFAULT (nothing changed) if it is gone', async () => {
    // Inside the mock aperture, so that only the pinning can fail.
    await ioasMap(self.fd, plain, 1n << 31n, P, A);
    await fails('EFAULT', () => mockDomain(self.fd, plain));
    await ioasUnmap(self.fd, plain, 0n, U64_MAX);
    await ioasMap(self.fd, plain, self.buffer, BUFFER_SIZE, A);
    expect(self.proc.mm.counters.pinnedPages).toBe(0n);
    await expectOk(mockDomain(self.fd, plain));
    expect(self.proc.mm.counters.pinnedPages).toBe(BUFFER_SIZE / P);
  });

  test('UNMAP: IOAS first, then iova/length >= ULONG_MAX, length 0, end overflow', async () => {
    await fails('ENOENT', () => unmap({ ioas_id: BAD_ID, iova: U64_MAX, length: 0n }));
    await fails('ENOENT', () => unmap({ ioas_id: BAD_ID, iova: 0n, length: U64_MAX }));
    await fails('ENOENT', () => unmap({ ioas_id: md.hwptId, iova: 0n, length: U64_MAX }));
    await fails('EOVERFLOW', () => unmap({ iova: U64_MAX, length: 0n }));
    await fails('EOVERFLOW', () => unmap({ iova: P, length: U64_MAX }));
    await fails('EINVAL', () => unmap({ iova: P, length: 0n }));
    await fails('EOVERFLOW', () => unmap({ iova: U64_MAX - P + 1n, length: 2n * P }));
    // Only (0, U64_MAX) is "unmap all": (0, U64_MAX - 1) on an empty IOAS is ENOENT.
    await fails('ENOENT', () => unmap({ iova: 0n, length: U64_MAX - 1n }));
    expect((await expectOk(unmap({ iova: 0n, length: U64_MAX }))).length).toBe(0n);
  });

  test('UNMAP: length out counts only what was unmapped; nothing inside → ENOENT', async () => {
    await ioasMap(self.fd, plain, self.buffer, P, 4n * P);
    await ioasMap(self.fd, plain, self.buffer, 2n * P, 6n * P);
    await fails('ENOENT', () => unmap({ iova: 0n, length: 4n * P }));
    await fails('ENOENT', () => unmap({ iova: 5n * P, length: P }));
    expect((await expectOk(unmap({ iova: 0n, length: 16n * P }))).length).toBe(3n * P);
    await ioasMap(self.fd, plain, self.buffer, P, 4n * P);
    expect((await expectOk(unmap({ iova: 0n, length: U64_MAX - 1n }))).length).toBe(P);
  });

  test('UNMAP: an area sticking out → ENOENT, but areas removed before it stay removed (and unpinned)', async () => {
    await ioasMap(self.fd, dom, self.buffer, P, A);
    await ioasMap(self.fd, dom, self.buffer + P, 2n * P, A + P);
    expect(self.proc.mm.counters.pinnedPages).toBe(3n);
    await expectErrno('ENOENT', ioasUnmap(self.fd, dom, A, 2n * P));
    expect(self.proc.mm.counters.pinnedPages).toBe(2n);
    await expectErrno('ENOENT', ioasUnmap(self.fd, dom, A, P));
    await checkMockIova(self.fd, [md.hwptId], self.buffer + P, A + P, 2n * P);
    expect(await ioasMap(self.fd, dom, self.buffer, P, A)).toBe(A);
  });

  test('COPY: flags, then ULONG_MAX checks, then R/W, then the source IOAS, then iopt_get_pages', async () => {
    await ioasMap(self.fd, plain, self.buffer, 2n * P, 0n);
    await fails('EOPNOTSUPP', () => copyRaw({ flags: RW | 8, length: U64_MAX, src_ioas_id: BAD_ID }));
    await fails('EOVERFLOW', () => copyRaw({ flags: 0, src_iova: U64_MAX, src_ioas_id: BAD_ID }));
    await fails('EOVERFLOW', () => copyRaw({ flags: 0, dst_iova: U64_MAX }));
    await fails('EOVERFLOW', () => copyRaw({ flags: 0, length: U64_MAX }));
    await fails('EINVAL', () => copyRaw({ flags: FIXED, src_ioas_id: BAD_ID }));
    await fails('ENOENT', () => copyRaw({ src_ioas_id: BAD_ID, length: 0n }));
    await fails('EINVAL', () => copyRaw({ length: 0n, dst_ioas_id: BAD_ID }));
    await fails('EOVERFLOW', () =>
      copyRaw({ src_iova: U64_MAX - P + 1n, length: 2n * P, dst_ioas_id: BAD_ID }),
    );
    // A hole in the source wins over a clash at the destination.
    await fails('ENOENT', () => copyRaw({ flags: RW | FIXED, src_iova: P, length: 2n * P, dst_iova: 0n }));
    await fails('ENOENT', () => copyRaw({ dst_ioas_id: BAD_ID }));
    await fails('ENOENT', () => copyRaw({ dst_ioas_id: md.hwptId }));
  });

  test('COPY: destination rules as MAP (reserved, EEXIST, alignment); writable copy of read-only pages → EPERM', async () => {
    await ioasMap(self.fd, plain, self.buffer, 4n * P, 0n);
    await ioasMap(self.fd, dom, self.buffer, P, A);
    const toDom = (f: Record<string, unknown>) =>
      copyRaw({ flags: RW | FIXED, dst_ioas_id: dom, src_iova: 0n, length: P, ...f });
    await fails('EEXIST', () => toDom({ dst_iova: A }));
    await fails('EINVAL', () => toDom({ dst_iova: 0n }));
    await fails('EINVAL', () => toDom({ dst_iova: A + 4n * P + 1024n }));
    await fails('EINVAL', () => toDom({ src_iova: 1024n, length: 2048n, dst_iova: A + 4n * P }));
    const ro = await ioasAlloc(self.fd);
    await ioasMap(self.fd, ro, self.buffer, P, 0n, READABLE);
    await expectErrnoUnchanged(self, [plain, dom, ro], 'EPERM', () =>
      copyRaw({ flags: WRITEABLE | FIXED, src_ioas_id: ro, dst_ioas_id: dom, dst_iova: A + 8n * P }),
    );
    await expectOk(
      copyRaw({ flags: READABLE | FIXED, src_ioas_id: ro, dst_ioas_id: dom, dst_iova: A + 8n * P }),
    );
  });

  test('COPY spans adjacent areas, copies sub-ranges, and shares pinned pages', async () => {
    await ioasMap(self.fd, dom, self.buffer, 4n * P, A);
    await ioasMap(self.fd, dom, self.buffer + 4n * P, 4n * P, A + 4n * P);
    expect(self.proc.mm.counters.pinnedPages).toBe(8n);
    const dom2 = await ioasAlloc(self.fd);
    const md2 = await mockDomain(self.fd, dom2);
    const at = await expectOk(
      copy(self.fd, { dst: dom2, src: dom, length: 4n * P, srcIova: A + 2n * P, dstIova: A }),
    );
    expect(at).toBe(A);
    await checkMockIova(self.fd, [md2.hwptId], self.buffer + 2n * P, A, 4n * P);
    expect(self.proc.mm.counters.pinnedPages).toBe(8n);
    // Unmapping the source keeps the copy (and its pins) alive.
    await ioasUnmap(self.fd, dom, 0n, U64_MAX);
    expect(self.proc.mm.counters.pinnedPages).toBe(4n);
    await checkMockIova(self.fd, [md2.hwptId], self.buffer + 2n * P, A, 4n * P);
  });
});
