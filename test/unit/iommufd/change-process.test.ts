/**
 * IOMMU_IOAS_CHANGE_PROCESS (spec §2.19): only MAP_FILE memory, whose pins are re-charged to the
 * calling process. Here the caller is always the ctx's process, so the moving path is driven by
 * pages charged to another process.
 */
import { describe, expect, test } from 'vitest';
import type { IoptPages } from '../../../actors/iommufd/pages.ts';
import { IOMMU_IOAS_MAP_FIXED_IOVA, type Iommufd, type Process } from '../../../index.ts';
import {
  MOCK_APERTURE_START as A,
  B,
  expectErrno,
  MAP_RW,
  mapFixed,
  mockDomain,
  P,
  rawIoctl,
  setup,
} from './selftest-fixture.ts';

const FIXED = MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA;

function changeProcess(fd: Iommufd) {
  return fd.ioctl('IOMMU_IOAS_CHANGE_PROCESS', {});
}

async function mapFile(fd: Iommufd, ioasId: number, mfd: number, length: bigint, iova: bigint) {
  await fd.ioctl('IOMMU_IOAS_MAP_FILE', { flags: FIXED, ioas_id: ioasId, fd: mfd, start: 0n, length, iova });
}

function pagesOf(fd: Iommufd, ioasId: number): IoptPages[] {
  const ioas = fd.ctx.objects.get(ioasId, 'IOAS') as unknown as {
    iopt: { areas: { all(): Iterable<{ value: { pages: IoptPages } }> } };
  };
  return [...new Set([...ioas.iopt.areas.all()].map((n) => n.value.pages))];
}

/** Charges the pins of `pages` to `other` instead, as if another process had made them. */
function chargeTo(pages: IoptPages, from: Process, other: Process) {
  const n = BigInt(pages.pinnedPages);
  from.user.lockedPages -= n;
  from.mm.counters.pinnedPages -= n;
  other.user.lockedPages += n;
  other.mm.counters.pinnedPages += n;
  pages.account = { counter: other.user, limitPages: undefined, pinned: other.mm.counters };
}

describe('IOMMU_IOAS_CHANGE_PROCESS', () => {
  test('__reserved is EOPNOTSUPP', async () => {
    const { fd } = await setup();
    await expectErrno('EOPNOTSUPP', rawIoctl(fd, 'IOMMU_IOAS_CHANGE_PROCESS', { __reserved: 1 }));
  });

  test('a ctx with nothing mapped, or with no IOAS, succeeds', async () => {
    const { fd } = await setup();
    await changeProcess(fd);
    const bare = await setup({ ioas: false });
    await changeProcess(bare.fd);
  });

  test('an anonymous-memory area anywhere is EINVAL with nothing changed', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, ioasId, proc, buffer } = self;
    const mfd = proc.memfd(B);
    await mapFile(fd, ioasId, mfd, B, A);
    const ioas2 = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
    await mapFixed(fd, ioas2, buffer, P, 0n);
    const locked = proc.user.lockedPages;
    const [pages] = pagesOf(fd, ioasId);
    const other = self.host.spawnProcess({ name: 'other', uid: 1001 });
    chargeTo(pages!, proc, other);
    await expectErrno('EINVAL', changeProcess(fd));
    expect(pages!.account.counter).toBe(other.user);
    expect(other.user.lockedPages).toBe(B / P);
    expect(proc.user.lockedPages).toBe(locked - B / P);
  });

  test('MAP_FILE memory already charged to the caller stays as it is', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, ioasId, proc } = self;
    const mfd = proc.memfd(B);
    await mapFile(fd, ioasId, mfd, B, A);
    const [pages] = pagesOf(fd, ioasId);
    const account = pages!.account;
    await changeProcess(fd);
    expect(pages!.account).toBe(account);
    expect(proc.user.lockedPages).toBe(B / P);
    expect(proc.mm.counters.pinnedPages).toBe(B / P);
  });

  test('pins charged to another process move to the caller, once per pages object', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, ioasId, proc } = self;
    const mfd = proc.memfd(B);
    await mapFile(fd, ioasId, mfd, B, A);
    // A copy shares the pages object: it must be re-charged once.
    await fd.ioctl('IOMMU_IOAS_COPY', {
      flags: FIXED,
      dst_ioas_id: ioasId,
      src_ioas_id: ioasId,
      length: B,
      dst_iova: A + B,
      src_iova: A,
    });
    const [pages] = pagesOf(fd, ioasId);
    expect(pagesOf(fd, ioasId)).toHaveLength(1);
    const other = self.host.spawnProcess({ name: 'other', uid: 1001 });
    chargeTo(pages!, proc, other);
    expect(proc.user.lockedPages).toBe(0n);
    await changeProcess(fd);
    expect(other.user.lockedPages).toBe(0n);
    expect(other.mm.counters.pinnedPages).toBe(0n);
    expect(proc.user.lockedPages).toBe(B / P);
    expect(proc.mm.counters.pinnedPages).toBe(B / P);
    expect(pages!.account.counter).toBe(proc.user);
    // Unmapping now uncharges the caller, which must not underflow.
    await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioasId, iova: 0n, length: (1n << 64n) - 1n });
    expect(proc.user.lockedPages).toBe(0n);
    expect(proc.mm.counters.pinnedPages).toBe(0n);
  });

  test('pages charged under RLIMIT_MODE mm move to the caller mm', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, ioasId, proc } = self;
    const mfd = proc.memfd(B);
    await mapFile(fd, ioasId, mfd, B, A);
    const [pages] = pagesOf(fd, ioasId);
    const other = self.host.spawnProcess({ name: 'other' });
    const n = B / P;
    proc.user.lockedPages -= n;
    proc.mm.counters.pinnedPages -= n;
    other.mm.counters.lockedPages += n;
    other.mm.counters.pinnedPages += n;
    pages!.account = { counter: other.mm.counters, limitPages: undefined, pinned: other.mm.counters };
    await changeProcess(fd);
    expect(other.mm.counters.lockedPages).toBe(0n);
    expect(proc.mm.counters.lockedPages).toBe(n);
    expect(proc.mm.counters.pinnedPages).toBe(n);
    expect(proc.user.lockedPages).toBe(0n);
  });

  test('ENOMEM when the caller cannot take the charge, and nothing moves', async () => {
    const self = await setup({ mockDomain: true, proc: { memlockLimit: 4n * P } });
    const { fd, ioasId, proc } = self;
    const other = self.host.spawnProcess({ name: 'other', uid: 1001 });
    await mapFile(fd, ioasId, proc.memfd(B), 2n * P, A);
    const [small] = pagesOf(fd, ioasId);
    chargeTo(small!, proc, other);
    const ioas2 = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
    await mockDomain(fd, ioas2);
    await mapFile(fd, ioas2, proc.memfd(B), 4n * P, A);
    const [big] = pagesOf(fd, ioas2);
    chargeTo(big!, proc, other);
    // 6 pages to take back against a 4 page RLIMIT_MEMLOCK.
    await expectErrno('ENOMEM', changeProcess(fd));
    expect(proc.user.lockedPages).toBe(0n);
    expect(proc.mm.counters.pinnedPages).toBe(0n);
    expect(other.user.lockedPages).toBe(6n);
    expect(small!.account.counter).toBe(other.user);
    expect(big!.account.counter).toBe(other.user);
  });
});
