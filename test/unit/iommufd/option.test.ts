/**
 * IOMMU_OPTION (spec §2.8): RLIMIT_MODE on the ctx and HUGE_PAGES per IOAS, catalogue 5 and 36.
 */
import { describe, expect, test } from 'vitest';
import {
  IOCTLS,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_GET,
  IOMMU_OPTION_OP_SET,
  IOMMU_OPTION_RLIMIT_MODE,
  type Iommufd,
} from '../../../index.ts';
import {
  B,
  expectErrno,
  MAP_RW,
  MOCK_APERTURE_START,
  mapFixed,
  mockDomain,
  P,
  placeStruct,
  rawIoctl,
  readStruct,
  setup,
  teardown,
} from './selftest-fixture.ts';

const RLIMIT = IOMMU_OPTION_RLIMIT_MODE;
const HUGE = IOMMU_OPTION_HUGE_PAGES;
const GET = IOMMU_OPTION_OP_GET;
const SET = IOMMU_OPTION_OP_SET;

async function option(
  fd: Iommufd,
  option_id: number,
  op: number,
  object_id = 0,
  val64 = 0n,
): Promise<bigint> {
  const out = await fd.ioctl('IOMMU_OPTION', { option_id, op, object_id, val64 });
  return out.val64 as bigint;
}

async function alignment(fd: Iommufd, ioas_id: number): Promise<bigint> {
  return (await fd.ioctl('IOMMU_IOAS_IOVA_RANGES', { ioas_id, num_iovas: 4 })).out_iova_alignment as bigint;
}

describe('IOMMU_OPTION generic checks', () => {
  test('__reserved is EOPNOTSUPP before anything else', async () => {
    const { fd } = await setup({ ioas: false });
    await expectErrno(
      'EOPNOTSUPP',
      rawIoctl(fd, 'IOMMU_OPTION', { option_id: RLIMIT, op: GET, __reserved: 1 }),
    );
    await expectErrno('EOPNOTSUPP', rawIoctl(fd, 'IOMMU_OPTION', { option_id: 7, op: GET, __reserved: 1 }));
  });

  test('an unknown option_id is EOPNOTSUPP', async () => {
    const { fd, ioasId } = await setup();
    await expectErrno('EOPNOTSUPP', option(fd, 2, GET, ioasId));
    await expectErrno('EOPNOTSUPP', option(fd, 0xffff_ffff, GET));
  });

  test('only val64 is written back, and only on success', async () => {
    const { fd, ioasId } = await setup();
    const ok = await rawIoctl(fd, 'IOMMU_OPTION', {
      option_id: HUGE,
      op: GET,
      object_id: ioasId,
      val64: 77n,
    });
    expect(ok.ret).toBe(0);
    expect(ok.out).toMatchObject({ option_id: HUGE, op: GET, object_id: ioasId, val64: 1n });
    const va = placeStruct(fd, 'IOMMU_OPTION', { option_id: HUGE, op: GET, object_id: 99, val64: 77n });
    await expectErrno('ENOENT', fd.ioctlRaw(IOCTLS.IOMMU_OPTION.cmd, va));
    expect(readStruct(fd, 'IOMMU_OPTION', va).val64).toBe(77n);
  });
});

describe('IOMMU_OPTION_RLIMIT_MODE', () => {
  test('5 global_options: GET 0, SET 1, SET 2 EINVAL, GET 1, SET 0; HUGE_PAGES on object 0 is ENOENT', async () => {
    const { fd } = await setup({ ioas: false });
    expect(await option(fd, RLIMIT, GET)).toBe(0n);
    await option(fd, RLIMIT, SET, 0, 1n);
    await expectErrno('EINVAL', option(fd, RLIMIT, SET, 0, 2n));
    expect(await option(fd, RLIMIT, GET)).toBe(1n);
    await option(fd, RLIMIT, SET, 0, 0n);
    expect(await option(fd, RLIMIT, GET)).toBe(0n);
    await expectErrno('ENOENT', option(fd, HUGE, GET, 0));
    await expectErrno('ENOENT', option(fd, HUGE, SET, 0, 0n));
  });

  test('object_id is EOPNOTSUPP, checked before the op', async () => {
    const { fd, ioasId } = await setup();
    await expectErrno('EOPNOTSUPP', option(fd, RLIMIT, GET, ioasId));
    await expectErrno('EOPNOTSUPP', option(fd, RLIMIT, 5, ioasId));
  });

  test('an op other than GET/SET is EOPNOTSUPP', async () => {
    const { fd } = await setup({ ioas: false });
    await expectErrno('EOPNOTSUPP', option(fd, RLIMIT, 2));
  });

  test('SET needs CAP_SYS_RESOURCE (EPERM), checked before EBUSY and the value', async () => {
    const { fd } = await setup({ ioas: false, proc: { privileged: false } });
    await expectErrno('EPERM', option(fd, RLIMIT, SET, 0, 1n));
    await expectErrno('EPERM', option(fd, RLIMIT, SET, 0, 9n));
    expect(fd.ctx.accountMode).toBe('user');
    expect(await option(fd, RLIMIT, GET)).toBe(0n);
  });

  test('SET with any object in the ctx is EBUSY and keeps the mode; freeing the ID allows it', async () => {
    const { fd, ioasId } = await setup();
    await expectErrno('EBUSY', option(fd, RLIMIT, SET, 0, 1n));
    await expectErrno('EBUSY', option(fd, RLIMIT, SET, 0, 2n));
    expect(await option(fd, RLIMIT, GET)).toBe(0n);
    await fd.ioctl('IOMMU_DESTROY', { id: ioasId });
    await option(fd, RLIMIT, SET, 0, 1n);
    expect(fd.ctx.accountMode).toBe('mm');
  });

  test('mode MM charges pins to the mm, USER to the user', async () => {
    for (const mode of [0n, 1n]) {
      const self = await setup({ ioas: false });
      const { fd, proc } = self;
      await option(fd, RLIMIT, SET, 0, mode);
      const ioas_id = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
      await mockDomain(fd, ioas_id);
      await mapFixed(fd, ioas_id, self.buffer, B, MOCK_APERTURE_START);
      const pages = B / P;
      expect(proc.mm.counters.pinnedPages).toBe(pages);
      expect(proc.mm.counters.lockedPages).toBe(mode === 1n ? pages : 0n);
      expect(proc.user.lockedPages).toBe(mode === 1n ? 0n : pages);
      await teardown(self);
      expect(proc.mm.counters.lockedPages + proc.user.lockedPages).toBe(0n);
    }
  });
});

describe('IOMMU_OPTION_HUGE_PAGES', () => {
  for (const mockDomain of [false, true]) {
    test(`36 ioas_option_huge_pages (${mockDomain ? 'mock_domain' : 'no_domain'})`, async () => {
      const self = await setup({ mockDomain });
      const { fd, ioasId } = self;
      expect(await option(fd, HUGE, GET, ioasId)).toBe(1n);
      await option(fd, HUGE, SET, ioasId, 0n);
      expect(await option(fd, HUGE, GET, ioasId)).toBe(0n);
      await expectErrno('EINVAL', option(fd, HUGE, SET, ioasId, 2n));
      expect(await option(fd, HUGE, GET, ioasId)).toBe(0n);
      await option(fd, HUGE, SET, ioasId, 1n);
      expect(await option(fd, HUGE, GET, ioasId)).toBe(1n);
      await teardown(self);
    });
  }

  test('disabling raises the alignment to PAGE_SIZE; enabling lowers it again', async () => {
    const { fd, ioasId } = await setup({ mockDomain: true });
    expect(await alignment(fd, ioasId)).toBe(2048n);
    await option(fd, HUGE, SET, ioasId, 0n);
    expect(await alignment(fd, ioasId)).toBe(P);
    await option(fd, HUGE, SET, ioasId, 1n);
    expect(await alignment(fd, ioasId)).toBe(2048n);
  });

  test('SET 0 with a domain and an area is EINVAL, and nothing changes', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, ioasId } = self;
    await mapFixed(fd, ioasId, self.buffer, P, MOCK_APERTURE_START);
    await expectErrno('EINVAL', option(fd, HUGE, SET, ioasId, 0n));
    expect(await option(fd, HUGE, GET, ioasId)).toBe(1n);
    expect(await alignment(fd, ioasId)).toBe(2048n);
    await teardown(self);
  });

  test('SET 0 when already disabled succeeds even with a domain and an area', async () => {
    const self = await setup({ mockDomain: true });
    const { fd, ioasId } = self;
    await option(fd, HUGE, SET, ioasId, 0n);
    await mapFixed(fd, ioasId, self.buffer, P, MOCK_APERTURE_START);
    await option(fd, HUGE, SET, ioasId, 0n);
    expect(await option(fd, HUGE, GET, ioasId)).toBe(0n);
    await teardown(self);
  });

  test('a misaligned area makes SET 0 EADDRINUSE and the flag is reverted', async () => {
    const self = await setup();
    const { fd, ioasId } = self;
    const flags = MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA;
    await fd.ioctl('IOMMU_IOAS_MAP', {
      flags,
      ioas_id: ioasId,
      user_va: self.buffer,
      length: 2048n,
      iova: 0n,
    });
    await expectErrno('EADDRINUSE', option(fd, HUGE, SET, ioasId, 0n));
    expect(await option(fd, HUGE, GET, ioasId)).toBe(1n);
    expect(await alignment(fd, ioasId)).toBe(1n);
    await teardown(self);
  });

  test('object_id of a non-IOAS is ENOENT; an unknown op is EOPNOTSUPP after the lookup', async () => {
    const { fd, ioasId, hwptId } = await setup({ mockDomain: true });
    await expectErrno('ENOENT', option(fd, HUGE, GET, hwptId));
    await expectErrno('EOPNOTSUPP', option(fd, HUGE, 2, ioasId));
    await expectErrno('ENOENT', option(fd, HUGE, 2, 999));
  });
});
