/**
 * IOMMU_HWPT_INVALIDATE on nested HWPTs: the invalidation part of `iommufd_ioas.alloc_hwpt_nested`
 * (catalogue §6, 50–52) per device variant, and the core's check order of spec §2.13.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID,
  IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX,
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  IOMMU_TEST_IOTLB_DEFAULT,
  iommu_hwpt_invalidate_selftest,
  MOCK_NESTED_DOMAIN_IOTLB_ID_MAX,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { closeAndCheck } from './helpers/fixture.ts';
import {
  checkIotlb,
  checkIotlbAll,
  hwptAlloc,
  hwptAllocNested,
  hwptInvReqs,
  IOAS_VARIANTS,
  type IoasSelf,
  invalidate,
  ioasSelf,
  rawIoctl,
} from './helpers/nested.ts';

const D = IOMMU_TEST_IOTLB_DEFAULT;
const SIZE = iommu_hwpt_invalidate_selftest.sizeof;
const PAGE = 4096;

/** `test_err_hwpt_invalidate`: the errno, and the entry_num the kernel wrote back. */
async function invErr(errno: Parameters<typeof expectErrno>[0], call: Promise<number>): Promise<unknown> {
  const err = await expectErrno(errno, call);
  return err.out?.entry_num;
}

describe.each(IOAS_VARIANTS.filter((v) => v.mockDomains > 0))(
  'iommufd_ioas/$name hwpt_invalidate',
  (variant) => {
    let self: IoasSelf;
    let parent: number;
    let nested: [number, number];
    beforeEach(async () => {
      self = await ioasSelf(variant);
      const { fd, deviceId, ioasId } = self;
      parent = await hwptAlloc(fd, deviceId, ioasId, IOMMU_HWPT_ALLOC_NEST_PARENT);
      nested = [
        await hwptAllocNested(fd, deviceId, parent, 0),
        await hwptAllocNested(fd, deviceId, parent, 0),
      ];
    });
    afterEach(async (ctx) => {
      if (!ctx.task.result?.errors?.length) await closeAndCheck(self);
    });

    test('50 inv-neg: parent, data type, entry_len, flags, NULL, iotlb_id; entry_num out 0', async () => {
      const { fd } = self;
      const zero = hwptInvReqs([{}, {}]);
      // A paging (parent) hwpt takes no user invalidation: EINVAL in the newest kernels.
      expect(
        await invErr('EINVAL', invalidate(fd, { id: parent, reqs: zero, entryLen: SIZE, entryNum: 1 })),
      ).toBe(0);
      // A zero-length array probes the data type.
      expect(await expectOk(invalidate(fd, { id: nested[0], reqs: zero, entryLen: SIZE, entryNum: 0 }))).toBe(
        0,
      );
      const invalidType = { dataType: IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID };
      expect(
        await invErr(
          'EINVAL',
          invalidate(fd, { id: nested[0], reqs: zero, ...invalidType, entryLen: SIZE, entryNum: 1 }),
        ),
      ).toBe(0);
      expect(
        await invErr(
          'EINVAL',
          invalidate(fd, { id: nested[0], reqs: zero, entryLen: SIZE + 1, entryNum: 1 }),
        ),
      ).toBe(0);
      expect(
        await invErr('EINVAL', invalidate(fd, { id: nested[0], reqs: zero, entryLen: 1, entryNum: 1 })),
      ).toBe(0);
      const badFlags = hwptInvReqs([{ flags: 0xffff_ffff }, {}]);
      expect(
        await invErr(
          'EOPNOTSUPP',
          invalidate(fd, { id: nested[0], reqs: badFlags, entryLen: SIZE, entryNum: 1 }),
        ),
      ).toBe(0);
      expect(
        await invErr('EINVAL', invalidate(fd, { id: nested[0], reqs: 0n, entryLen: SIZE, entryNum: 1 })),
      ).toBe(0);
      expect(
        await invErr('EINVAL', invalidate(fd, { id: nested[0], reqs: zero, entryLen: 0, entryNum: 1 })),
      ).toBe(0);
      const badId = hwptInvReqs([{ iotlb_id: MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1 }, {}]);
      expect(
        await invErr('EINVAL', invalidate(fd, { id: nested[0], reqs: badId, entryLen: SIZE, entryNum: 1 })),
      ).toBe(0);
      // None of that touched the IOTLBs.
      await checkIotlbAll(fd, nested[0], D);
      await checkIotlbAll(fd, nested[1], D);
    });

    test('51 inv-partial: the 1st entry is handled, the 2nd fails; entry_num out 1', async () => {
      const { fd } = self;
      const flagsFail = hwptInvReqs([{ iotlb_id: 0 }, { flags: 0xffff_ffff, iotlb_id: 1 }]);
      expect(
        await invErr(
          'EOPNOTSUPP',
          invalidate(fd, { id: nested[0], reqs: flagsFail, entryLen: SIZE, entryNum: 2 }),
        ),
      ).toBe(1);
      await checkIotlb(fd, nested[0], 0, 0);
      for (const i of [1, 2, 3]) await checkIotlb(fd, nested[0], i, D);

      const idFail = hwptInvReqs([{ iotlb_id: 0 }, { iotlb_id: MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1 }]);
      expect(
        await invErr('EINVAL', invalidate(fd, { id: nested[0], reqs: idFail, entryLen: SIZE, entryNum: 2 })),
      ).toBe(1);
      await checkIotlb(fd, nested[0], 0, 0);
      for (const i of [1, 2, 3]) await checkIotlb(fd, nested[0], i, D);
      // The other nested hwpt shares the parent, not the IOTLB.
      await checkIotlbAll(fd, nested[1], D);
    });

    test('52 inv-ok: single entries, two entries, FLAG_ALL', async () => {
      const { fd } = self;
      const one = (iotlb_id: number) => hwptInvReqs([{ iotlb_id }]);
      expect(await invalidate(fd, { id: nested[0], reqs: one(0), entryLen: SIZE, entryNum: 1 })).toBe(1);
      expect(await invalidate(fd, { id: nested[0], reqs: one(1), entryLen: SIZE, entryNum: 1 })).toBe(1);
      await checkIotlb(fd, nested[0], 0, 0);
      await checkIotlb(fd, nested[0], 1, 0);
      await checkIotlb(fd, nested[0], 2, D);
      await checkIotlb(fd, nested[0], 3, D);
      const two = hwptInvReqs([{ iotlb_id: 2 }, { iotlb_id: 3 }]);
      expect(await invalidate(fd, { id: nested[0], reqs: two, entryLen: SIZE, entryNum: 2 })).toBe(2);
      await checkIotlbAll(fd, nested[0], 0);
      await checkIotlbAll(fd, nested[1], D);
      // FLAG_ALL ignores iotlb_id for the choice of entries, but iotlb_id is range-checked first.
      const allBadId = hwptInvReqs([{ flags: IOMMU_TEST_INVALIDATE_FLAG_ALL, iotlb_id: 7 }]);
      expect(
        await invErr(
          'EINVAL',
          invalidate(fd, { id: nested[1], reqs: allBadId, entryLen: SIZE, entryNum: 1 }),
        ),
      ).toBe(0);
      await checkIotlbAll(fd, nested[1], D);
      const all = hwptInvReqs([{ flags: IOMMU_TEST_INVALIDATE_FLAG_ALL, iotlb_id: 2 }]);
      expect(await invalidate(fd, { id: nested[1], reqs: all, entryLen: SIZE, entryNum: 1 })).toBe(1);
      await checkIotlbAll(fd, nested[1], 0);
    });
  },
);

/** The core's part of IOMMU_HWPT_INVALIDATE (§2.13), before any driver runs. */
describe('HWPT_INVALIDATE check order (§2.13)', () => {
  let self: IoasSelf;
  let nested: number;
  beforeEach(async () => {
    self = await ioasSelf({ name: 'mock_domain', mockDomains: 1 });
    const parent = await hwptAlloc(self.fd, self.deviceId, self.ioasId, IOMMU_HWPT_ALLOC_NEST_PARENT);
    nested = await hwptAllocNested(self.fd, self.deviceId, parent, 0);
  });

  test('1: __reserved → EOPNOTSUPP with entry_num out 0, before the hwpt lookup', async () => {
    const { fd, proc } = self;
    const va = proc.mmap(PAGE);
    for (const id of [nested, 0xffff]) {
      const err = await expectErrno(
        'EOPNOTSUPP',
        rawIoctl(fd, 'IOMMU_HWPT_INVALIDATE', {
          hwpt_id: id,
          data_uptr: va,
          data_type: IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
          entry_len: SIZE,
          entry_num: 1,
          __reserved: 1,
        }),
      );
      expect(err.out?.entry_num).toBe(0);
    }
    await checkIotlbAll(fd, nested, D);
  });

  test('2: with entry_num ≠ 0, NULL / zero entry_len / entry_len > PAGE_SIZE / too many → EINVAL first', async () => {
    const { fd } = self;
    const reqs = hwptInvReqs([{ iotlb_id: 0 }]);
    for (const id of [nested, 0xffff]) {
      expect(await invErr('EINVAL', invalidate(fd, { id, reqs: 0n, entryLen: SIZE, entryNum: 1 }))).toBe(0);
      expect(await invErr('EINVAL', invalidate(fd, { id, reqs, entryLen: 0, entryNum: 1 }))).toBe(0);
      expect(await invErr('EINVAL', invalidate(fd, { id, reqs, entryLen: PAGE + 1, entryNum: 1 }))).toBe(0);
      expect(
        await invErr(
          'EINVAL',
          invalidate(fd, { id, reqs, entryLen: SIZE, entryNum: IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX + 1 }),
        ),
      ).toBe(0);
    }
    await checkIotlbAll(fd, nested, D);
  });

  test('entry_num 0 ignores data_uptr and entry_len', async () => {
    const { fd } = self;
    expect(await expectOk(invalidate(fd, { id: nested, reqs: 0n, entryLen: 0, entryNum: 0 }))).toBe(0);
    expect(await expectOk(invalidate(fd, { id: nested, reqs: 0n, entryLen: PAGE * 4, entryNum: 0 }))).toBe(0);
    // ... but not the data type, which the driver checks even for an empty array.
    const invalidType = { dataType: IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID };
    expect(
      await invErr(
        'EINVAL',
        invalidate(fd, { id: nested, reqs: 0n, ...invalidType, entryLen: 0, entryNum: 0 }),
      ),
    ).toBe(0);
  });

  test('3–4: a missing hwpt_id → ENOENT; an IOAS, a device or a paging hwpt → EINVAL', async () => {
    const { fd, ioasId, deviceId, hwptId } = self;
    const reqs = hwptInvReqs([{ iotlb_id: 0 }]);
    expect(await invErr('ENOENT', invalidate(fd, { id: 0xffff, reqs, entryLen: SIZE, entryNum: 1 }))).toBe(0);
    expect(await invErr('ENOENT', invalidate(fd, { id: 0, reqs, entryLen: SIZE, entryNum: 1 }))).toBe(0);
    for (const id of [ioasId, deviceId, hwptId]) {
      expect(await invErr('EINVAL', invalidate(fd, { id, reqs, entryLen: SIZE, entryNum: 1 }))).toBe(0);
    }
  });

  test('5: a bad user pointer inside the array is the driver’s EFAULT, after the entries before it', async () => {
    const { fd, proc } = self;
    // Two entries where the 2nd lies on an unmapped page: the 1st is handled, then EFAULT.
    // A fixed low page: the page after it is never mapped (the call's own scratch goes top-down).
    const va = proc.mmap(PAGE, { fixed: 0x1000_0000n });
    const first = va + BigInt(PAGE - SIZE);
    proc.write(first, hwptInvReqs([{ iotlb_id: 3 }]));
    const err = await expectErrno(
      'EFAULT',
      invalidate(fd, { id: nested, reqs: first, entryLen: SIZE, entryNum: 2 }),
    );
    expect(err.out?.entry_num).toBe(1);
    await checkIotlb(fd, nested, 3, 0);
    await checkIotlb(fd, nested, 0, D);
  });
});
