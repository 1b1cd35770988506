/**
 * PASID attachment: `iommufd_device_pasid.pasid_attach` of the catalogue (§6, 89–94), per variant
 * (has_pasid; no_pasid also adds a device without PASID), split at the catalogue's seams, and the
 * PASID rules of spec §2.21 through the selftest PASID ops.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_PGFAULT_FLAGS_LAST_PAGE,
  IOMMU_PGFAULT_FLAGS_PASID_VALID,
  IOMMU_TEST_PASID_RESERVED,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  MOCK_PASID_WIDTH,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { closeAndCheck } from './helpers/fixture.ts';
import {
  type DevicePasidSelf,
  destroy,
  devicePasidSelf,
  faultAlloc,
  hwptAlloc,
  hwptAllocNested,
  mockDomainReplace,
  PASID_VARIANTS,
  pasidAttach,
  pasidCheckHwpt,
  pasidDetach,
  pasidReplace,
  triggerIopf,
  vdeviceAlloc,
  viommuAlloc,
} from './helpers/nested.ts';

const PASID = IOMMU_HWPT_ALLOC_PASID;

describe.each(PASID_VARIANTS)('iommufd_device_pasid/$name pasid_attach', (variant) => {
  let self: DevicePasidSelf;
  let parent: number;
  let nested: [number, number, number];
  let faultId: number;
  let faultFd: number;
  let iopf: number;
  let viommuId: number;
  let s2: number;

  beforeEach(async () => {
    self = await devicePasidSelf(variant);
    const { fd, deviceId, ioasId } = self;
    parent = await hwptAlloc(fd, deviceId, ioasId, IOMMU_HWPT_ALLOC_NEST_PARENT);
    const n0 = await hwptAllocNested(fd, deviceId, parent, PASID);
    const n1 = await hwptAllocNested(fd, deviceId, parent, PASID);
    ({ faultId, faultFd } = await faultAlloc(fd));
    iopf = await hwptAllocNested(fd, deviceId, parent, IOMMU_HWPT_FAULT_ID_VALID | PASID, { faultId });
    ({ viommuId } = await viommuAlloc(fd, deviceId, parent, IOMMU_VIOMMU_TYPE_SELFTEST));
    const n2 = await hwptAllocNested(fd, deviceId, viommuId, PASID);
    nested = [n0, n1, n2];
    s2 = await hwptAlloc(fd, deviceId, ioasId, PASID);
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.errors?.length) return;
    if (self.proc.files.has(faultFd)) self.proc.close(faultFd);
    await closeAndCheck(self);
  });

  const check = (pasid: number, hwptId: number) => pasidCheckHwpt(self.fd, self.stdevId, pasid, hwptId);

  test('89 compat: PASID needs a pasid-compat hwpt at the RID too; the RID cannot leave compat', async () => {
    const { fd, stdevId } = self;
    const pasid = 100;
    // Detach without an attach is not expected, but is no failure.
    await expectOk(pasidDetach(fd, stdevId, pasid));
    await expectOk(mockDomainReplace(fd, stdevId, parent));
    await expectErrno('EINVAL', pasidAttach(fd, stdevId, pasid, s2));
    await expectOk(check(pasid, 0));
    await expectOk(mockDomainReplace(fd, stdevId, s2));
    await expectOk(pasidAttach(fd, stdevId, pasid, nested[0]));
    await expectErrno('EINVAL', mockDomainReplace(fd, stdevId, parent));
    // The RID stays where it was: s2 is still busy, the PASID still on nested0.
    await expectErrno('EBUSY', destroy(fd, s2));
    await expectOk(check(pasid, nested[0]));
    await expectOk(pasidDetach(fd, stdevId, pasid));
    await expectOk(check(pasid, 0));
    // With no PASID attached the RID may go back to a non-compat hwpt.
    await expectOk(mockDomainReplace(fd, stdevId, parent));
  });

  test('89b a non-compat hwpt, or an IOAS (auto-domains are not PASID-compat), never attaches at a PASID', async () => {
    const { fd, stdevId, ioasId } = self;
    const pasid = 100;
    await mockDomainReplace(fd, stdevId, s2);
    await expectErrno('EINVAL', pasidAttach(fd, stdevId, pasid, parent));
    await expectOk(check(pasid, 0));
    await expectErrno('EINVAL', pasidAttach(fd, stdevId, pasid, ioasId));
    await expectOk(check(pasid, 0));
    // The rejected auto-domain did not keep its ID: the next object gets it. (With has_pasid the
    // fixture's auto-domain died when the RID left it, so that lower ID is the free one.)
    const next = await hwptAlloc(fd, self.deviceId, ioasId, 0);
    expect(next).toBe(variant.pasidCapable ? self.hwptId : s2 + 1);
    await mockDomainReplace(fd, stdevId, ioasId);
  });

  // The no_pasid variant's extra device; has_pasid has none to test.
  if (!variant.pasidCapable) {
    test('90 no_pasid device: compat hwpts work at its RID, never at a PASID', async () => {
      const { fd, noPasidStdevId, ioasId } = self;
      expect(noPasidStdevId).not.toBe(0);
      await expectOk(mockDomainReplace(fd, noPasidStdevId, nested[0]));
      await expectOk(mockDomainReplace(fd, noPasidStdevId, ioasId));
      await expectErrno('EINVAL', pasidAttach(fd, noPasidStdevId, 100, parent));
      await expectErrno('EINVAL', pasidAttach(fd, noPasidStdevId, 100, s2));
      await expectOk(pasidCheckHwpt(fd, noPasidStdevId, 100, 0));
      // Even with its RID on a PASID-compat hwpt, a device without PASID support cannot attach one.
      await expectOk(mockDomainReplace(fd, noPasidStdevId, s2));
      await expectErrno('EINVAL', pasidAttach(fd, noPasidStdevId, 100, s2));
      await expectErrno('EINVAL', pasidAttach(fd, noPasidStdevId, 100, nested[0]));
      await expectOk(pasidCheckHwpt(fd, noPasidStdevId, 100, 0));
      await expectOk(mockDomainReplace(fd, noPasidStdevId, ioasId));
    });
  }

  test('91 attach: s2 then EBUSY for a second attach; detach; nested0 then EBUSY', async () => {
    const { fd, stdevId } = self;
    const pasid = 100;
    await mockDomainReplace(fd, stdevId, s2);
    await expectOk(pasidAttach(fd, stdevId, pasid, s2));
    await expectOk(check(pasid, s2));
    await expectErrno('EBUSY', pasidAttach(fd, stdevId, pasid, nested[0]));
    await expectOk(check(pasid, s2));
    await expectErrno('EINVAL', check(pasid, nested[0]));
    await expectOk(pasidDetach(fd, stdevId, pasid));
    await expectOk(check(pasid, 0));
    await expectOk(pasidAttach(fd, stdevId, pasid, nested[0]));
    await expectOk(check(pasid, nested[0]));
    await expectErrno('EBUSY', pasidAttach(fd, stdevId, pasid, nested[0]));
    // The attachment holds the hwpt.
    await expectErrno('EBUSY', destroy(fd, nested[0]));
    await expectOk(pasidDetach(fd, stdevId, pasid));
    await expectOk(destroy(fd, nested[0]));
  });

  test('91b a vIOMMU nested hwpt at a PASID needs a vDEVICE, like at the RID', async () => {
    const { fd, stdevId, deviceId } = self;
    await mockDomainReplace(fd, stdevId, s2);
    await expectErrno('ENOENT', pasidAttach(fd, stdevId, 300, nested[2]));
    await expectOk(check(300, 0));
    const vdev = await vdeviceAlloc(fd, viommuId, deviceId, 0x5n);
    await expectOk(pasidAttach(fd, stdevId, 300, nested[2]));
    await expectOk(check(300, nested[2]));
    await pasidDetach(fd, stdevId, 300);
    await destroy(fd, vdev);
  });

  test('92 replace: EINVAL when not attached or to an IOAS; nested0 → nested1', async () => {
    const { fd, stdevId, ioasId } = self;
    const pasid = 200;
    await mockDomainReplace(fd, stdevId, s2);
    await expectErrno('EINVAL', pasidReplace(fd, stdevId, pasid, s2));
    await expectOk(check(pasid, 0));
    await expectOk(pasidAttach(fd, stdevId, pasid, s2));
    await expectOk(check(pasid, s2));
    await expectErrno('EINVAL', pasidReplace(fd, stdevId, pasid, ioasId));
    await expectOk(check(pasid, s2));
    await expectOk(pasidReplace(fd, stdevId, pasid, nested[0]));
    await expectOk(check(pasid, nested[0]));
    await expectOk(pasidReplace(fd, stdevId, pasid, nested[1]));
    await expectOk(check(pasid, nested[1]));
    // The replaced-away hwpts are free again.
    await expectOk(destroy(fd, nested[0]));
    await expectErrno('EBUSY', destroy(fd, nested[1]));
    await expectOk(pasidDetach(fd, stdevId, pasid));
    await expectOk(check(pasid, 0));
  });

  test('93 PASID 1024: the mock fails the 2nd set with ENOMEM and the old domain stays', async () => {
    const { fd, stdevId } = self;
    const pasid = IOMMU_TEST_PASID_RESERVED;
    await mockDomainReplace(fd, stdevId, s2);
    await expectOk(pasidAttach(fd, stdevId, pasid, s2));
    await expectOk(check(pasid, s2));
    await expectErrno('ENOMEM', pasidReplace(fd, stdevId, pasid, nested[0]));
    await expectOk(check(pasid, s2));
    // The failed replace took no reference on nested0.
    await expectOk(destroy(fd, nested[0]));
    await expectOk(pasidDetach(fd, stdevId, pasid));
    await expectOk(check(pasid, 0));
  });

  test('94 iopf at PASID 2048: the fault carries PASID_VALID and the PASID; replace to s2; cleanup', async () => {
    const { fd, stdevId, deviceId, ioasId } = self;
    const pasid = 2048;
    await mockDomainReplace(fd, stdevId, s2);
    await expectOk(pasidAttach(fd, stdevId, pasid, iopf));
    await expectOk(check(pasid, iopf));
    const fault = await expectOk(triggerIopf(fd, deviceId, faultFd, pasid));
    expect(fault).toMatchObject({
      flags: IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE,
      dev_id: deviceId,
      pasid,
    });
    await expectOk(pasidReplace(fd, stdevId, pasid, s2));
    await expectOk(check(pasid, s2));
    await expectOk(pasidDetach(fd, stdevId, pasid));
    await expectOk(destroy(fd, iopf));
    self.proc.close(faultFd);
    await expectOk(destroy(fd, faultId));
    await expectOk(mockDomainReplace(fd, stdevId, ioasId));
  });

  test('PASIDs at or past max_pasids (2^20) → EINVAL; the last one works', async () => {
    const { fd, stdevId } = self;
    await mockDomainReplace(fd, stdevId, s2);
    const max = 1 << MOCK_PASID_WIDTH;
    await expectErrno('EINVAL', pasidAttach(fd, stdevId, max, s2));
    await expectErrno('EINVAL', pasidAttach(fd, stdevId, 0xffff_fff0, s2));
    await expectOk(pasidAttach(fd, stdevId, max - 1, s2));
    await expectOk(check(max - 1, s2));
    await pasidDetach(fd, stdevId, max - 1);
  });

  test('two PASIDs on different hwpts; the RID can replace between compat hwpts meanwhile', async () => {
    const { fd, stdevId } = self;
    await mockDomainReplace(fd, stdevId, s2);
    await pasidAttach(fd, stdevId, 1, nested[0]);
    await pasidAttach(fd, stdevId, 2, nested[1]);
    await expectOk(check(1, nested[0]));
    await expectOk(check(2, nested[1]));
    const s2b = await hwptAlloc(fd, self.deviceId, self.ioasId, PASID);
    await expectOk(mockDomainReplace(fd, stdevId, s2b));
    await expectOk(destroy(fd, s2));
    await expectOk(check(1, nested[0]));
    await pasidDetach(fd, stdevId, 1);
    await pasidDetach(fd, stdevId, 2);
    await expectOk(check(2, 0));
  });
});
