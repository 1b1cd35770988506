import { describe, expect, test } from 'vitest';
import type { HwptNested } from '../../../actors/iommufd/hwpt-nested.ts';
import { PROT_NONE } from '../../../actors/mem/address-space.ts';
import {
  IOCTLS,
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID,
  IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX,
  IOMMU_TEST_DEV_CACHE_DEFAULT,
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  IOMMU_TEST_IOTLB_DEFAULT,
  IOMMU_TEST_OP_DEV_CHECK_CACHE,
  IOMMU_TEST_OP_MD_CHECK_IOTLB,
  IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
  type IommufdError,
  iommu_hwpt_invalidate,
  iommu_hwpt_invalidate_selftest,
  iommu_viommu_invalidate_selftest,
  PAGE_SIZE,
} from '../../../index.ts';
import { destroy, placeUser, rawIoctl, viommuFixture } from './viommu-fixture.ts';

const D = IOMMU_TEST_IOTLB_DEFAULT;
const C = IOMMU_TEST_DEV_CACHE_DEFAULT;
const HWPT_TYPE = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;
const VIOMMU_TYPE = IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST;

type Fixture = Awaited<ReturnType<typeof viommuFixture>>;

function invalidate(f: Fixture, fields: Record<string, unknown>) {
  return f.fd.ioctl('IOMMU_HWPT_INVALIDATE', fields);
}

/** Resolves to the entry_num written back, on success or failure; `errno` is set on failure. */
async function inv(f: Fixture, fields: Record<string, unknown>): Promise<{ num: number; errno?: string }> {
  try {
    const out = await invalidate(f, fields);
    return { num: out.entry_num as number };
  } catch (err) {
    const e = err as IommufdError;
    return { num: Number(e.out?.entry_num), errno: e.errno };
  }
}

async function iotlb(f: Fixture, hwptId: number): Promise<number[]> {
  const out: number[] = [];
  for (let id = 0; id < 4; id++) {
    for (const v of [0, D]) {
      const ok = await f.fd
        .ioctl('IOMMU_TEST_CMD', {
          op: IOMMU_TEST_OP_MD_CHECK_IOTLB,
          id: hwptId,
          check_iotlb: { id, iotlb: v },
        })
        .then(() => true)
        .catch(() => false);
      if (ok) out.push(v);
    }
  }
  return out;
}

async function devCache(f: Fixture): Promise<number[]> {
  const out: number[] = [];
  for (let id = 0; id < 4; id++) {
    for (const v of [0, C]) {
      const ok = await f.fd
        .ioctl('IOMMU_TEST_CMD', {
          op: IOMMU_TEST_OP_DEV_CHECK_CACHE,
          id: f.idevId,
          check_dev_cache: { id, cache: v },
        })
        .then(() => true)
        .catch(() => false);
      if (ok) out.push(v);
    }
  }
  return out;
}

describe('IOMMU_HWPT_INVALIDATE: core checks', () => {
  test('__reserved EOPNOTSUPP, with entry_num written back as 0', async () => {
    const f = await viommuFixture();
    await expect(
      rawIoctl(f.fd, 'IOMMU_HWPT_INVALIDATE', {
        hwpt_id: f.nestedId,
        data_type: HWPT_TYPE,
        __reserved: 1,
        entry_num: 3,
      }),
    ).rejects.toMatchObject({ errno: 'EOPNOTSUPP' });
    const va = placeUser(
      f.proc,
      iommu_hwpt_invalidate.encode({
        size: 32,
        hwpt_id: f.nestedId,
        data_type: HWPT_TYPE,
        entry_num: 3,
        __reserved: 1,
      }),
    );
    await expect(f.fd.ioctlRaw(IOCTLS.IOMMU_HWPT_INVALIDATE.cmd, va)).rejects.toMatchObject({
      errno: 'EOPNOTSUPP',
    });
    expect(iommu_hwpt_invalidate.decode(f.proc.read(va, 32)).entry_num).toBe(0);
  });

  test('entry_num != 0 needs data_uptr, an entry_len in (0, PAGE_SIZE] and entry_num <= 1<<19', async () => {
    const f = await viommuFixture();
    const base = {
      hwpt_id: f.nestedId,
      data_type: HWPT_TYPE,
      data_uptr: 0x1000n,
      entry_len: 8,
      entry_num: 1,
    };
    expect(await inv(f, { ...base, data_uptr: 0n, hwpt_id: 0 })).toEqual({ num: 0, errno: 'EINVAL' });
    expect(await inv(f, { ...base, entry_len: 0, hwpt_id: 0 })).toEqual({ num: 0, errno: 'EINVAL' });
    expect(await inv(f, { ...base, entry_len: PAGE_SIZE + 1 })).toEqual({ num: 0, errno: 'EINVAL' });
    expect(await inv(f, { ...base, entry_num: IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX + 1 })).toEqual({
      num: 0,
      errno: 'EINVAL',
    });
    // With entry_num 0, pointer and length are ignored.
    expect(await inv(f, { ...base, entry_num: 0, data_uptr: 0n, entry_len: 0 })).toEqual({ num: 0 });
  });

  test('hwpt_id: missing ENOENT; IOAS, paging HWPT and others EINVAL', async () => {
    const f = await viommuFixture();
    const probe = { data_type: HWPT_TYPE, entry_num: 0 };
    expect(await inv(f, { ...probe, hwpt_id: 0 })).toEqual({ num: 0, errno: 'ENOENT' });
    expect(await inv(f, { ...probe, hwpt_id: 999 })).toEqual({ num: 0, errno: 'ENOENT' });
    expect(await inv(f, { ...probe, hwpt_id: f.ioasId })).toEqual({ num: 0, errno: 'EINVAL' });
    expect(await inv(f, { ...probe, hwpt_id: f.parentId })).toEqual({ num: 0, errno: 'EINVAL' });
    expect(await inv(f, { ...probe, hwpt_id: f.idevId })).toEqual({ num: 0, errno: 'EINVAL' });
  });

  test('a nested domain without cache_invalidate_user is EOPNOTSUPP', async () => {
    const f = await viommuFixture();
    const hwpt = f.fd.ctx.objects.get<HwptNested>(f.nestedId, 'HWPT_NESTED');
    Object.defineProperty(hwpt.domain, 'cacheInvalidateUser', { value: undefined });
    expect(await inv(f, { hwpt_id: f.nestedId, data_type: HWPT_TYPE, entry_num: 0 })).toEqual({
      num: 0,
      errno: 'EOPNOTSUPP',
    });
  });

  test('a failed copy-back is EFAULT, overriding the driver error', async () => {
    const f = await viommuFixture();
    const fields = { hwpt_id: f.nestedId, data_type: IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID };
    await expect(rawIoctl(f.fd, 'IOMMU_HWPT_INVALIDATE', fields)).rejects.toMatchObject({ errno: 'EINVAL' });
    await expect(rawIoctl(f.fd, 'IOMMU_HWPT_INVALIDATE', fields, { readOnly: true })).rejects.toMatchObject({
      errno: 'EFAULT',
    });
  });
});

describe('IOMMU_HWPT_INVALIDATE on a nested HWPT (catalogue 52)', () => {
  test('type probe, partial completion, inv-ok', async () => {
    const f = await viommuFixture();
    const id = f.nestedId;
    const req = (entries: Array<{ flags?: number; iotlb_id: number }>, data_type = HWPT_TYPE) =>
      inv(f, {
        hwpt_id: id,
        data_type,
        data_uptr: entries.map((e) => iommu_hwpt_invalidate_selftest.encode(e)),
      });
    expect(await inv(f, { hwpt_id: id, data_type: HWPT_TYPE, entry_num: 0 })).toEqual({ num: 0 });
    expect(
      await inv(f, { hwpt_id: id, data_type: IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID, entry_num: 0 }),
    ).toEqual({
      num: 0,
      errno: 'EINVAL',
    });
    expect(await req([{ iotlb_id: 1 }], IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID)).toEqual({
      num: 0,
      errno: 'EINVAL',
    });
    expect(await req([{ iotlb_id: 1 }, { flags: 2, iotlb_id: 0 }])).toEqual({ num: 1, errno: 'EOPNOTSUPP' });
    expect(await iotlb(f, id)).toEqual([D, 0, D, D]);
    expect(await req([{ iotlb_id: 4 }])).toEqual({ num: 0, errno: 'EINVAL' });
    expect(await req([{ iotlb_id: 2 }, { iotlb_id: 3 }])).toEqual({ num: 2 });
    expect(await iotlb(f, id)).toEqual([D, 0, 0, 0]);
    expect(await req([{ flags: IOMMU_TEST_INVALIDATE_FLAG_ALL, iotlb_id: 3 }])).toEqual({ num: 1 });
    expect(await iotlb(f, id)).toEqual([0, 0, 0, 0]);
  });

  test('entries are read lazily: a bad pointer in the 2nd entry is EFAULT after the 1st is handled', async () => {
    const f = await viommuFixture();
    // Entry 0 sits in the last 8 bytes of a mapped page, entry 1 on the unmapped page after it.
    const buf = f.proc.mmap(2 * PAGE_SIZE);
    f.proc.mmap(PAGE_SIZE, { fixed: buf + BigInt(PAGE_SIZE), prot: PROT_NONE });
    const at = buf + BigInt(PAGE_SIZE - 8);
    f.proc.write(at, new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0]));
    const r = await inv(f, {
      hwpt_id: f.nestedId,
      data_type: HWPT_TYPE,
      data_uptr: at,
      entry_len: 8,
      entry_num: 2,
    });
    expect(r).toEqual({ num: 1, errno: 'EFAULT' });
    expect(await iotlb(f, f.nestedId)).toEqual([D, 0, D, D]);
  });
});

describe('IOMMU_HWPT_INVALIDATE on a vIOMMU (catalogue 85)', () => {
  async function withVdev() {
    const f = await viommuFixture();
    const { out_vdevice_id } = await f.fd.ioctl('IOMMU_VDEVICE_ALLOC', {
      viommu_id: f.viommuId,
      dev_id: f.idevId,
      virt_id: 0x99n,
    });
    return { ...f, vdevId: out_vdevice_id as number };
  }
  const req = (
    f: Fixture,
    entries: Array<{ flags?: number; vdev_id: number; cache_id: number }>,
    data_type = VIOMMU_TYPE,
  ) =>
    inv(f, {
      hwpt_id: f.viommuId,
      data_type,
      data_uptr: entries.map((e) => iommu_viommu_invalidate_selftest.encode(e)),
    });

  test('vdevice_cache/ok', async () => {
    const f = await withVdev();
    expect(await inv(f, { hwpt_id: f.viommuId, data_type: VIOMMU_TYPE, entry_num: 0 })).toEqual({ num: 0 });
    expect(await devCache(f)).toEqual([C, C, C, C]);
    expect(await req(f, [{ vdev_id: 0x99, cache_id: 1 }])).toEqual({ num: 1 });
    expect(await devCache(f)).toEqual([C, 0, C, C]);
    expect(
      await req(f, [
        { vdev_id: 0x99, cache_id: 2 },
        { vdev_id: 0x99, cache_id: 3 },
      ]),
    ).toEqual({ num: 2 });
    expect(await devCache(f)).toEqual([C, 0, 0, 0]);
    expect(await req(f, [{ flags: IOMMU_TEST_INVALIDATE_FLAG_ALL, vdev_id: 0x99, cache_id: 0 }])).toEqual({
      num: 1,
    });
    expect(await devCache(f)).toEqual([0, 0, 0, 0]);
    await destroy(f.fd, f.vdevId);
  });

  test('negative: type (even for 0 entries), flags, cache_id, unknown vdev_id; partial count', async () => {
    const f = await withVdev();
    const bad = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID;
    expect(await inv(f, { hwpt_id: f.viommuId, data_type: bad, entry_num: 0 })).toEqual({
      num: 0,
      errno: 'EINVAL',
    });
    expect(await req(f, [{ vdev_id: 0x99, cache_id: 0 }], bad)).toEqual({ num: 0, errno: 'EINVAL' });
    expect(await req(f, [{ flags: 2, vdev_id: 0x99, cache_id: 0 }])).toEqual({ num: 0, errno: 'EOPNOTSUPP' });
    expect(await req(f, [{ vdev_id: 0x99, cache_id: 4 }])).toEqual({ num: 0, errno: 'EINVAL' });
    expect(await req(f, [{ vdev_id: 0x98, cache_id: 0 }])).toEqual({ num: 0, errno: 'EINVAL' });
    expect(
      await req(f, [
        { vdev_id: 0x99, cache_id: 0 },
        { vdev_id: 0x98, cache_id: 1 },
        { vdev_id: 0x99, cache_id: 2 },
      ]),
    ).toEqual({ num: 1, errno: 'EINVAL' });
    expect(await devCache(f)).toEqual([0, C, C, C]);
  });

  test('entry_len other than 12: short entries zero-extend, long ones need a zero tail (whole array first)', async () => {
    const f = await withVdev();
    const e = (cache_id: number, tail = 0) => {
      const b = new Uint8Array(16);
      b.set(iommu_viommu_invalidate_selftest.encode({ vdev_id: 0x99, cache_id }));
      b[15] = tail;
      return b;
    };
    const two = new Uint8Array(32);
    two.set(e(1));
    two.set(e(2, 1), 16);
    const va = placeUser(f.proc, two);
    // The full-array copy fails on entry 1's tail before entry 0 is acted on.
    expect(
      await inv(f, {
        hwpt_id: f.viommuId,
        data_type: VIOMMU_TYPE,
        data_uptr: va,
        entry_len: 16,
        entry_num: 2,
      }),
    ).toEqual({ num: 0, errno: 'E2BIG' });
    expect(await devCache(f)).toEqual([C, C, C, C]);
    expect(
      await inv(f, {
        hwpt_id: f.viommuId,
        data_type: VIOMMU_TYPE,
        data_uptr: va,
        entry_len: 16,
        entry_num: 1,
      }),
    ).toEqual({ num: 1 });
    expect(await devCache(f)).toEqual([C, 0, C, C]);
    // 8 bytes: cache_id reads as 0.
    const short = placeUser(f.proc, iommu_viommu_invalidate_selftest.encode({ vdev_id: 0x99, cache_id: 3 }));
    expect(
      await inv(f, {
        hwpt_id: f.viommuId,
        data_type: VIOMMU_TYPE,
        data_uptr: short,
        entry_len: 8,
        entry_num: 1,
      }),
    ).toEqual({ num: 1 });
    expect(await devCache(f)).toEqual([0, 0, C, C]);
  });

  test('a vIOMMU without cache_invalidate is EOPNOTSUPP', async () => {
    const f = await withVdev();
    const viommu = f.fd.ctx.objects.get(f.viommuId, 'VIOMMU') as unknown as { ops: object };
    const ops = viommu.ops;
    viommu.ops = { destroy() {} };
    expect(await inv(f, { hwpt_id: f.viommuId, data_type: VIOMMU_TYPE, entry_num: 0 })).toEqual({
      num: 0,
      errno: 'EOPNOTSUPP',
    });
    viommu.ops = ops;
  });
});
