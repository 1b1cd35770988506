/**
 * vIOMMU: the selftest's `iommufd_viommu` fixture (mock_viommu / no_viommu) tests 72–75 of the
 * catalogue, and the IOMMU_VIOMMU_ALLOC check order of spec §2.15, the vIOMMU HWPT_ALLOC branch of
 * §2.10 and the /dev/iommu mmap rules of §2.20.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_PGFAULT_FLAGS_LAST_PAGE,
  IOMMU_TEST_IOTLB_DEFAULT,
  IOMMU_VIOMMU_TYPE_DEFAULT,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  iommu_viommu_selftest,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { closeAndCheck, mockDomain, PAGE_SIZE } from './helpers/fixture.ts';
import {
  checkIotlbAll,
  destroy,
  faultAlloc,
  hwptAlloc,
  hwptAllocNested,
  ioasAlloc,
  mockDomainReplace,
  triggerIopf,
  VIOMMU_VARIANTS,
  type ViommuSelf,
  vdeviceAlloc,
  vfioAttach,
  vfioBind,
  viommuAlloc,
  viommuSelf,
} from './helpers/nested.ts';

const SELFTEST = IOMMU_VIOMMU_TYPE_SELFTEST;
const UINT32_MAX = 0xffff_ffff;

function teardown(get: () => ViommuSelf) {
  afterEach(async (ctx) => {
    if (!ctx.task.result?.errors?.length) await closeAndCheck(get());
  });
}

describe.each(VIOMMU_VARIANTS)('iommufd_viommu/$name', (variant) => {
  let self: ViommuSelf;
  beforeEach(async () => {
    self = await viommuSelf(variant);
  });
  teardown(() => self);

  test('72 viommu_auto_destroy: setup + close', () => {
    expect(self.viommuId !== 0).toBe(variant.viommu);
  });

  test('73 viommu_negative_tests', async () => {
    const { fd, deviceId, ioasId, hwptId, viommuId } = self;
    if (!variant.viommu) {
      await expectErrno('ENOENT', viommuAlloc(fd, deviceId, hwptId, SELFTEST));
      return;
    }
    await expectErrno('ENOENT', viommuAlloc(fd, deviceId, 0, SELFTEST));
    const plain = await hwptAlloc(fd, deviceId, ioasId, 0);
    await expectErrno('EINVAL', viommuAlloc(fd, deviceId, plain, SELFTEST));
    await expectOk(destroy(fd, plain));
    await expectErrno('EOPNOTSUPP', viommuAlloc(fd, deviceId, hwptId, 0xdead));
    await expectErrno('EBUSY', destroy(fd, hwptId));
    await expectErrno('EBUSY', destroy(fd, viommuId));
  });
});

describe('iommufd_viommu/mock_viommu', () => {
  let self: ViommuSelf;
  beforeEach(async () => {
    self = await viommuSelf({ viommu: true });
  });
  teardown(() => self);

  test('74 viommu_alloc_nested_iopf', async () => {
    const { fd, deviceId, viommuId, stdevId, ioasId } = self;
    const { faultId, faultFd } = await faultAlloc(fd);
    await expectErrno(
      'ENOENT',
      hwptAllocNested(fd, deviceId, viommuId, IOMMU_HWPT_FAULT_ID_VALID, { faultId: UINT32_MAX }),
    );
    await expectErrno(
      'EOPNOTSUPP',
      hwptAllocNested(fd, deviceId, viommuId, IOMMU_HWPT_FAULT_ID_VALID | (1 << 31), { faultId }),
    );
    const iopf = await expectOk(
      hwptAllocNested(fd, deviceId, viommuId, IOMMU_HWPT_FAULT_ID_VALID, { faultId }),
    );
    // Attaching a vIOMMU-based nested domain needs a vDEVICE of the device on that vIOMMU.
    await expectErrno('ENOENT', mockDomainReplace(fd, stdevId, iopf));
    await expectOk(vdeviceAlloc(fd, viommuId, deviceId, 0x99n));
    await expectOk(mockDomainReplace(fd, stdevId, iopf));
    await expectErrno('EBUSY', destroy(fd, iopf));
    const fault = await expectOk(triggerIopf(fd, deviceId, faultFd));
    expect(fault.dev_id).toBe(deviceId);
    expect(fault.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE).toBe(IOMMU_PGFAULT_FLAGS_LAST_PAGE);
    await expectOk(mockDomainReplace(fd, stdevId, ioasId));
    await expectOk(destroy(fd, iopf));
    fd.process.close(faultFd);
    await expectOk(destroy(fd, faultId));
  });

  test('75 viommu_alloc_with_data: out_data, mmap offset/length must match, the mmap pins the vIOMMU', async () => {
    const { fd, proc, deviceId, hwptId } = self;
    const { viommuId, data } = await expectOk(
      viommuAlloc(fd, deviceId, hwptId, SELFTEST, iommu_viommu_selftest.encode({ in_data: 0xbeef })),
    );
    const out = iommu_viommu_selftest.decode(data!);
    expect(out.out_data).toBe(0xbeef);
    expect(out.out_mmap_length).toBe(2n * PAGE_SIZE);
    expect(out.out_mmap_offset % PAGE_SIZE).toBe(0n);
    expect(out.out_mmap_offset).toBeGreaterThanOrEqual(PAGE_SIZE);
    const map = (length: bigint, offset: bigint, prot = PROT_READ | PROT_WRITE, shared = true) =>
      proc.mmap(length, { fd: fd.fd, offset, prot, shared });
    const { out_mmap_length: len, out_mmap_offset: off } = out;
    await expectErrno('ENXIO', () => map(len, off + PAGE_SIZE));
    await expectErrno('ENXIO', () => map(len, off + 2n * PAGE_SIZE));
    await expectErrno('ENXIO', () => map(len / 2n, off));
    await expectErrno('ENXIO', () => map(len * 2n, off));
    // §2.20: MAP_PRIVATE → EINVAL; PROT_EXEC → EPERM.
    await expectErrno('EINVAL', () => map(len, off, PROT_READ, false));
    await expectErrno('EPERM', () => map(len, off, PROT_READ | PROT_EXEC));
    const va = map(len, off);
    const word = new DataView(proc.read(va, 4).buffer).getUint32(0, true);
    expect(word).toBe(0xbeef);
    // The VMA holds the vIOMMU.
    await expectErrno('EBUSY', destroy(fd, viommuId));
    proc.munmap(va, len);
    await expectOk(destroy(fd, viommuId));
    // Its region went with it.
    await expectErrno('ENXIO', () => map(len, off));
  });

  test('viommu data shorter than out_data → EINVAL, and the ID is released', async () => {
    const { fd, deviceId, hwptId, nestedHwptId } = self;
    await expectErrno(
      'EINVAL',
      viommuAlloc(
        fd,
        deviceId,
        hwptId,
        SELFTEST,
        iommu_viommu_selftest.encode({ in_data: 1 }).subarray(0, 4),
      ),
    );
    expect(await ioasAlloc(fd)).toBe(nestedHwptId + 1);
  });

  test('the fixture nested hwpt: IOTLBs from the data, it holds the vIOMMU, not the parent directly', async () => {
    const { fd, viommuId, hwptId, nestedHwptId } = self;
    await checkIotlbAll(fd, nestedHwptId, IOMMU_TEST_IOTLB_DEFAULT);
    await expectErrno('EBUSY', destroy(fd, viommuId));
    await expectErrno('EBUSY', destroy(fd, hwptId));
    await expectOk(destroy(fd, nestedHwptId));
    await expectErrno('EBUSY', destroy(fd, hwptId)); // the vIOMMU holds its parent
    await expectOk(destroy(fd, viommuId));
    await expectOk(destroy(fd, hwptId));
  });

  test('§2.10 vIOMMU branch: flags ⊆ FAULT_ID_VALID|PASID; data is required', async () => {
    const { fd, deviceId, viommuId } = self;
    await expectErrno('EOPNOTSUPP', hwptAllocNested(fd, deviceId, viommuId, IOMMU_HWPT_ALLOC_NEST_PARENT));
    await expectOk(hwptAllocNested(fd, deviceId, viommuId, IOMMU_HWPT_ALLOC_PASID));
    await expectErrno('EOPNOTSUPP', hwptAlloc(fd, deviceId, viommuId, 0));
  });

  test('§2.10 vIOMMU branch: a device behind another IOMMU instance → EINVAL', async () => {
    const { fd, host, proc, viommuId, deviceId, ioasId } = self;
    host.addIommu({ name: 'm0', vendor: 'mock' });
    host.addDevice({ name: 'other', iommu: 'm0' });
    const { vdev, devId } = await vfioBind(proc, fd, 'other');
    await expectErrno('EINVAL', hwptAllocNested(fd, devId, viommuId, 0));
    // And a vDEVICE cannot pair it with this vIOMMU either (§2.16).
    await expectErrno('EINVAL', vdeviceAlloc(fd, viommuId, devId, 0x42n));
    // A vIOMMU for it needs a nest parent from its own driver instance ... which works.
    await vfioAttach(vdev, ioasId);
    const parent2 = await hwptAlloc(fd, devId, ioasId, IOMMU_HWPT_ALLOC_NEST_PARENT);
    const { viommuId: v2 } = await expectOk(viommuAlloc(fd, devId, parent2, SELFTEST));
    await expectErrno('EINVAL', hwptAllocNested(fd, deviceId, v2, 0));
    await destroy(fd, v2);
    await destroy(fd, parent2);
    await vdev.close();
  });
});

/** IOMMU_VIOMMU_ALLOC check order (§2.15). */
describe('VIOMMU_ALLOC check order (§2.15)', () => {
  let self: ViommuSelf;
  beforeEach(async () => {
    self = await viommuSelf({ viommu: true });
  });

  test('flags or type DEFAULT → EOPNOTSUPP before the device lookup', async () => {
    const { fd, hwptId } = self;
    await expectErrno(
      'EOPNOTSUPP',
      fd.ioctl('IOMMU_VIOMMU_ALLOC', { flags: 1, type: SELFTEST, dev_id: 0, hwpt_id: hwptId }),
    );
    await expectErrno('EOPNOTSUPP', viommuAlloc(fd, 0, hwptId, IOMMU_VIOMMU_TYPE_DEFAULT));
  });

  test('device → ENOENT, then unsupported type → EOPNOTSUPP, both before the hwpt lookup', async () => {
    const { fd, deviceId, ioasId } = self;
    await expectErrno('ENOENT', viommuAlloc(fd, 0, 0, SELFTEST));
    await expectErrno('ENOENT', viommuAlloc(fd, ioasId, 0, SELFTEST));
    await expectErrno('EOPNOTSUPP', viommuAlloc(fd, deviceId, 0, 0xdead));
  });

  test('hwpt_id must be a HWPT_PAGING (ENOENT), then a nest parent (EINVAL)', async () => {
    const { fd, deviceId, ioasId, nestedHwptId, viommuId, hwptId } = self;
    await expectErrno('ENOENT', viommuAlloc(fd, deviceId, 0, SELFTEST));
    await expectErrno('ENOENT', viommuAlloc(fd, deviceId, ioasId, SELFTEST));
    await expectErrno('ENOENT', viommuAlloc(fd, deviceId, nestedHwptId, SELFTEST));
    await expectErrno('ENOENT', viommuAlloc(fd, deviceId, viommuId, SELFTEST));
    const md = await mockDomain(fd, ioasId);
    // The auto-domain of the new device is a paging hwpt, but no nest parent.
    await expectErrno('EINVAL', viommuAlloc(fd, deviceId, md.hwptId, SELFTEST));
    // Two vIOMMUs may share one parent.
    const { viommuId: v2 } = await expectOk(viommuAlloc(fd, deviceId, hwptId, SELFTEST));
    expect(v2).not.toBe(viommuId);
  });
});
