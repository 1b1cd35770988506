/**
 * Nested HWPTs: the selftest's `iommufd_ioas.alloc_hwpt_nested` (catalogue §6, 46–49, 53–54) per
 * fixture variant, and the HWPT_ALLOC check order of spec §2.10.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_HWPT_DATA_NONE,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_PGFAULT_FLAGS_LAST_PAGE,
  IOMMU_PGFAULT_FLAGS_PASID_VALID,
  IOMMU_PGFAULT_PERM_READ,
  IOMMU_PGFAULT_PERM_WRITE,
  IOMMU_TEST_IOTLB_DEFAULT,
  MOCK_FLAGS_DEVICE_NO_DIRTY,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { closeAndCheck, mockDomain } from './helpers/fixture.ts';
import {
  checkIotlbAll,
  destroy,
  faultAlloc,
  hwptAlloc,
  hwptAllocNested,
  IOAS_VARIANTS,
  type IoasSelf,
  ioasAlloc,
  ioasSelf,
  mockDomainReplace,
  rawIoctl,
  selftestData,
  triggerIopf,
} from './helpers/nested.ts';

const NEST_PARENT = IOMMU_HWPT_ALLOC_NEST_PARENT;
const FAULT_ID_VALID = IOMMU_HWPT_FAULT_ID_VALID;
const UINT32_MAX = 0xffff_ffff;
/** `offsetofend(struct iommu_hwpt_selftest, iotlb)`. */
const MIN_DATA_LEN = 4;

const withDevice = IOAS_VARIANTS.filter((v) => v.mockDomains > 0);

describe.each(withDevice)('iommufd_ioas/$name alloc_hwpt_nested', (variant) => {
  let self: IoasSelf;
  beforeEach(async () => {
    self = await ioasSelf(variant);
  });
  afterEach(async (ctx) => {
    if (!ctx.task.result?.errors?.length) await closeAndCheck(self);
  });

  test('46 neg-paging: bad dev/pt IDs and NEST_PARENT|FAULT_ID_VALID, then the two parents', async () => {
    const { fd, ioasId, deviceId } = self;
    await expectErrno('ENOENT', hwptAlloc(fd, ioasId, deviceId));
    await expectErrno('EINVAL', hwptAlloc(fd, deviceId, deviceId));
    await expectErrno('EOPNOTSUPP', hwptAlloc(fd, deviceId, ioasId, NEST_PARENT | FAULT_ID_VALID));
    const parent = await expectOk(hwptAlloc(fd, deviceId, ioasId, NEST_PARENT));
    const notWork = await expectOk(hwptAlloc(fd, deviceId, ioasId, 0));
    expect(notWork).toBe(parent + 1);
  });

  test('47 neg-nested: data type/len/pointer, flags and a non-nest-parent parent', async () => {
    const { fd, ioasId, deviceId } = self;
    const parent = await hwptAlloc(fd, deviceId, ioasId, NEST_PARENT);
    const notWork = await hwptAlloc(fd, deviceId, ioasId, 0);
    const data = selftestData();
    // data_type NONE with a data_len is the core's EINVAL (§2.10 step 2).
    await expectErrno(
      'EINVAL',
      hwptAllocNested(fd, deviceId, parent, 0, { dataType: IOMMU_HWPT_DATA_NONE, data }),
    );
    await expectErrno(
      'EOPNOTSUPP',
      hwptAllocNested(fd, deviceId, parent, 0, { dataType: IOMMU_HWPT_DATA_SELFTEST + 1, data }),
    );
    await expectErrno(
      'EINVAL',
      hwptAllocNested(fd, deviceId, parent, 0, { data, dataLen: MIN_DATA_LEN - 1 }),
    );
    await expectErrno('EFAULT', hwptAllocNested(fd, deviceId, parent, 0, { data: 0n, dataLen: data.length }));
    await expectErrno('EOPNOTSUPP', hwptAllocNested(fd, deviceId, parent, NEST_PARENT, { data }));
    await expectErrno('EINVAL', hwptAllocNested(fd, deviceId, notWork, 0, { data }));
    // None of the failures kept an ID: the next object takes the one after notWork.
    expect(await ioasAlloc(fd)).toBe(notWork + 1);
  });

  test('48 alloc: two nested on one parent, an iopf hwpt, IOTLBs = data.iotlb', async () => {
    const { fd, ioasId, deviceId } = self;
    const parent = await hwptAlloc(fd, deviceId, ioasId, NEST_PARENT);
    await hwptAlloc(fd, deviceId, ioasId, 0);
    const { faultId, faultFd } = await expectOk(faultAlloc(fd));
    const nested0 = await expectOk(hwptAllocNested(fd, deviceId, parent, 0));
    const nested1 = await expectOk(hwptAllocNested(fd, deviceId, parent, 0));
    expect(nested1).toBe(nested0 + 1);
    await expectErrno(
      'ENOENT',
      hwptAllocNested(fd, deviceId, parent, FAULT_ID_VALID, { faultId: UINT32_MAX }),
    );
    const iopf = await expectOk(hwptAllocNested(fd, deviceId, parent, FAULT_ID_VALID, { faultId }));
    // The ENOENT built a HWPT and destroyed it again (§2.10 step 6): its ID came back.
    expect(iopf).toBe(nested1 + 1);
    await checkIotlbAll(fd, nested0, IOMMU_TEST_IOTLB_DEFAULT);
    await checkIotlbAll(fd, nested1, IOMMU_TEST_IOTLB_DEFAULT);
    await checkIotlbAll(fd, iopf, IOMMU_TEST_IOTLB_DEFAULT);
    // A FAULT referenced by a HWPT, and held by its fd, cannot be destroyed.
    await expectErrno('EBUSY', destroy(fd, faultId));
    await destroy(fd, iopf);
    fd.process.close(faultFd);
    await expectOk(destroy(fd, faultId));
  });

  test('48b the IOTLB entries take data.iotlb, whatever it is', async () => {
    const { fd, ioasId, deviceId } = self;
    const parent = await hwptAlloc(fd, deviceId, ioasId, NEST_PARENT);
    const nested = await hwptAllocNested(fd, deviceId, parent, 0, { data: selftestData(0x1234) });
    await checkIotlbAll(fd, nested, 0x1234);
    await expectErrno('EINVAL', checkIotlbAll(fd, nested, IOMMU_TEST_IOTLB_DEFAULT));
  });

  test('49 nested-on-nested: EINVAL; the parent is busy while nested HWPTs use it', async () => {
    const { fd, ioasId, deviceId } = self;
    const parent = await hwptAlloc(fd, deviceId, ioasId, NEST_PARENT);
    const nested0 = await hwptAllocNested(fd, deviceId, parent, 0);
    await expectErrno('EINVAL', hwptAllocNested(fd, deviceId, nested0, 0));
    await expectErrno('EBUSY', destroy(fd, parent));
    await expectOk(destroy(fd, nested0));
    await expectOk(destroy(fd, parent));
  });

  test('53 replace-chain: nested0 → nested1 → iopf (IOPF round trip) → parent → ioas', async () => {
    const { fd, ioasId, deviceId, stdevId } = self;
    const parent = await hwptAlloc(fd, deviceId, ioasId, NEST_PARENT);
    const notWork = await hwptAlloc(fd, deviceId, ioasId, 0);
    const { faultId, faultFd } = await faultAlloc(fd);
    const nested0 = await hwptAllocNested(fd, deviceId, parent, 0);
    const nested1 = await hwptAllocNested(fd, deviceId, parent, 0);
    const iopf = await hwptAllocNested(fd, deviceId, parent, FAULT_ID_VALID, { faultId });

    expect(await expectOk(mockDomainReplace(fd, stdevId, nested0))).toBe(nested0);
    await expectErrno('EBUSY', destroy(fd, nested0));
    expect(await expectOk(mockDomainReplace(fd, stdevId, nested1))).toBe(nested1);
    await expectErrno('EBUSY', destroy(fd, nested1));
    await expectOk(destroy(fd, nested0));

    await expectOk(mockDomainReplace(fd, stdevId, iopf));
    await expectErrno('EBUSY', destroy(fd, iopf));
    const fault = await expectOk(triggerIopf(fd, deviceId, faultFd));
    expect(fault).toMatchObject({
      flags: IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE,
      dev_id: deviceId,
      pasid: 1,
      grpid: 2,
      perm: IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE,
      __reserved: 0,
      addr: 0xdeadbeafn,
      length: 0,
    });
    expect(fault.cookie).toBeGreaterThanOrEqual(1);

    await expectOk(mockDomainReplace(fd, stdevId, parent));
    await expectOk(destroy(fd, nested1));
    await expectOk(destroy(fd, iopf));

    await expectOk(mockDomainReplace(fd, stdevId, ioasId));
    await expectOk(destroy(fd, parent));
    await expectOk(destroy(fd, notWork));
    await expectErrno('EBUSY', destroy(fd, faultId)); // its fd is still open
    fd.process.close(faultFd);
    await expectOk(destroy(fd, faultId));
  });

  test('53b replace back to the IOAS: the shared auto-domain, or a new one reusing the freed ID', async () => {
    const { fd, ioasId, deviceId, stdevId, hwptId } = self;
    const parent = await hwptAlloc(fd, deviceId, ioasId, NEST_PARENT);
    await mockDomainReplace(fd, stdevId, parent);
    const shared = variant.mockDomains > 1 || variant.pasidCapable === true;
    // An auto-domain dies with its last device; another device of the fixture keeps it alive.
    if (!shared) await expectErrno('ENOENT', destroy(fd, hwptId));
    const back = await mockDomainReplace(fd, stdevId, ioasId);
    expect(back).not.toBe(parent);
    // Shared: the same auto-domain is reused. Else a new one takes the lowest free ID: the old one.
    expect(back).toBe(hwptId);
    await expectErrno('EBUSY', destroy(fd, back));
    // The explicit parent outlived its detach and is free to destroy.
    await expectOk(destroy(fd, parent));
  });
});

describe('iommufd_ioas/no_domain alloc_hwpt_nested', () => {
  test('54 every call with device 0 / stdev 0 is ENOENT', async () => {
    const self = await ioasSelf(IOAS_VARIANTS[0]!);
    const { fd, ioasId, deviceId, stdevId } = self;
    expect(deviceId).toBe(0);
    await expectErrno('ENOENT', hwptAlloc(fd, deviceId, ioasId, 0));
    await expectErrno('ENOENT', hwptAllocNested(fd, deviceId, 0, 0));
    await expectErrno('ENOENT', hwptAllocNested(fd, deviceId, 0, 0));
    await expectErrno('ENOENT', mockDomainReplace(fd, stdevId, 0));
    await expectErrno('ENOENT', mockDomainReplace(fd, stdevId, 0));
    // Nothing was created: the next ID is 2.
    expect(await ioasAlloc(fd)).toBe(2);
    await closeAndCheck(self);
  });
});

/** IOMMU_HWPT_ALLOC check order (§2.10), one failing condition masking the later ones each time. */
describe('HWPT_ALLOC check order (§2.10)', () => {
  let self: IoasSelf;
  beforeEach(async () => {
    self = await ioasSelf({ name: 'mock_domain', mockDomains: 1 });
  });

  test('1: __reserved → EOPNOTSUPP before anything else', async () => {
    const { fd } = self;
    await expectErrno(
      'EOPNOTSUPP',
      rawIoctl(fd, 'IOMMU_HWPT_ALLOC', { __reserved: 1, dev_id: 0, pt_id: 0, data_type: 0, data_len: 8 }),
    );
  });

  test('__reserved2 is not checked', async () => {
    const { fd, deviceId, ioasId } = self;
    const out = await expectOk(
      rawIoctl(fd, 'IOMMU_HWPT_ALLOC', { __reserved2: 0xffff_ffff, dev_id: deviceId, pt_id: ioasId }),
    );
    expect(out.out_hwpt_id).toBeGreaterThan(0);
  });

  test('2: data_type/data_len disagreeing → EINVAL before the device lookup', async () => {
    const { fd } = self;
    await expectErrno(
      'EINVAL',
      fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: 0, pt_id: 0, data_type: 0, data_len: 8 }),
    );
    await expectErrno(
      'EINVAL',
      fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: 0, pt_id: 0, data_type: IOMMU_HWPT_DATA_SELFTEST, data_len: 0 }),
    );
  });

  test('3–4: dev_id → ENOENT before pt_id; a missing pt_id is EINVAL, not ENOENT', async () => {
    const { fd, deviceId, ioasId } = self;
    await expectErrno('ENOENT', hwptAlloc(fd, 0, 0xffff));
    await expectErrno('ENOENT', hwptAlloc(fd, ioasId, ioasId));
    await expectErrno('EINVAL', hwptAlloc(fd, deviceId, 0xffff));
    await expectErrno('EINVAL', hwptAlloc(fd, deviceId, 0));
  });

  test('5: a pt_id that is no IOAS/HWPT_PAGING/VIOMMU → EINVAL (device, nested, fault, selftest)', async () => {
    const { fd, deviceId, ioasId, stdevId } = self;
    await expectErrno('EINVAL', hwptAlloc(fd, deviceId, deviceId));
    await expectErrno('EINVAL', hwptAlloc(fd, deviceId, stdevId));
    const parent = await hwptAlloc(fd, deviceId, ioasId, NEST_PARENT);
    const nested = await hwptAllocNested(fd, deviceId, parent, 0);
    await expectErrno('EINVAL', hwptAllocNested(fd, deviceId, nested, 0));
    const { faultId, faultFd } = await faultAlloc(fd);
    await expectErrno('EINVAL', hwptAlloc(fd, deviceId, faultId));
    fd.process.close(faultFd);
  });

  test('IOAS branch: unknown flags, DIRTY on a NO_DIRTY device, FAULT|NEST_PARENT → EOPNOTSUPP', async () => {
    const { fd, ioasId, deviceId } = self;
    await expectErrno('EOPNOTSUPP', hwptAlloc(fd, deviceId, ioasId, 1 << 4));
    await expectErrno('EOPNOTSUPP', hwptAlloc(fd, deviceId, ioasId, 1 << 31));
    await expectErrno('EOPNOTSUPP', hwptAlloc(fd, deviceId, ioasId, NEST_PARENT | FAULT_ID_VALID));
    const noDirty = await mockDomain(fd, ioasId, MOCK_FLAGS_DEVICE_NO_DIRTY);
    await expectErrno('EOPNOTSUPP', hwptAlloc(fd, noDirty.idevId, ioasId, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
    // Flags win over a bad fault_id: the fault lookup comes last.
    await expectErrno(
      'EOPNOTSUPP',
      hwptAlloc(fd, deviceId, ioasId, NEST_PARENT | FAULT_ID_VALID, UINT32_MAX),
    );
  });

  test('HWPT_PAGING branch: flags/no data → EOPNOTSUPP; auto-domain or non-nest parent → EINVAL', async () => {
    const { fd, ioasId, deviceId, hwptId } = self;
    const parent = await hwptAlloc(fd, deviceId, ioasId, NEST_PARENT);
    const plain = await hwptAlloc(fd, deviceId, ioasId, IOMMU_HWPT_ALLOC_PASID);
    await expectErrno('EOPNOTSUPP', hwptAllocNested(fd, deviceId, parent, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
    await expectErrno('EOPNOTSUPP', hwptAlloc(fd, deviceId, parent, 0)); // no data_len
    // The fixture's hwpt is an auto-domain (made by the attach to the IOAS).
    await expectErrno('EINVAL', hwptAllocNested(fd, deviceId, hwptId, 0));
    await expectErrno('EINVAL', hwptAllocNested(fd, deviceId, plain, 0));
    // EOPNOTSUPP (flags) is checked before EINVAL (parent).
    await expectErrno('EOPNOTSUPP', hwptAllocNested(fd, deviceId, plain, NEST_PARENT));
  });

  test('6: FAULT_ID_VALID with a bad fault_id → ENOENT; the HWPT and its ID are gone again', async () => {
    const { fd, deviceId } = self;
    const ioas2 = await ioasAlloc(fd);
    await expectErrno('ENOENT', hwptAlloc(fd, deviceId, ioas2, FAULT_ID_VALID, UINT32_MAX));
    // The paging domain that was built is no longer in ioas2: no aperture, alignment 1 ...
    const ranges = await fd.ioctl('IOMMU_IOAS_IOVA_RANGES', { ioas_id: ioas2, num_iovas: 4 });
    expect(ranges.num_iovas).toBe(1);
    expect(ranges.out_iova_alignment).toBe(1n);
    // ... it holds no reference on ioas2, and its ID is free again.
    const next = await ioasAlloc(fd);
    expect(next).toBe(ioas2 + 1);
    await expectOk(destroy(fd, ioas2));
    // A fault_id naming another object type is ENOENT too.
    await expectErrno('ENOENT', hwptAlloc(fd, deviceId, next, FAULT_ID_VALID, next));
  });

  test('a paging HWPT is not attached by its alloc and survives the detach of its last device', async () => {
    const { fd, ioasId, deviceId, stdevId } = self;
    const h = await hwptAlloc(fd, deviceId, ioasId, 0);
    await mockDomainReplace(fd, stdevId, h);
    await expectErrno('EBUSY', destroy(fd, h));
    await mockDomainReplace(fd, stdevId, ioasId);
    await expectOk(destroy(fd, h));
  });

  test('mock rejects a paging pagetable_type it does not know; the HWPT data must be SELFTEST', async () => {
    const { fd, ioasId, deviceId } = self;
    const bad = new Uint8Array(8);
    new DataView(bad.buffer).setUint32(4, 99, true);
    await expectErrno('EOPNOTSUPP', hwptAllocNested(fd, deviceId, ioasId, 0, { data: bad }));
    await expectErrno(
      'EOPNOTSUPP',
      hwptAllocNested(fd, deviceId, ioasId, 0, {
        dataType: IOMMU_HWPT_DATA_SELFTEST + 1,
        data: selftestData(),
      }),
    );
  });
});
