/**
 * Selftest catalogue §6 get_hw_info (34–35) on FIXTURE iommufd_ioas × variants, plus own cases for
 * IOMMU_GET_HW_INFO (§2.11): check order, data_len semantics and out_capabilities of the mock.
 */
import { describe, expect, test } from 'vitest';
import {
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED,
  IOMMU_HW_INFO_FLAG_INPUT_TYPE,
  IOMMU_HW_INFO_SELFTEST_REGVAL,
  IOMMU_HW_INFO_TYPE_DEFAULT,
  IOMMU_HW_INFO_TYPE_SELFTEST,
  type Iommufd,
  iommu_test_hw_info,
  MOCK_FLAGS_DEVICE_NO_DIRTY,
  MOCK_PASID_WIDTH,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { mockDomain } from './helpers/fixture.ts';
import { IOAS_VARIANTS, place, rawCall, useIoasFixture } from './helpers/more.ts';

/**
 * `_test_cmd_get_hw_info`: the user buffer is pre-filled with 0xff so zeroing is visible. Checks what
 * the helper asserts (type, length, zeroed tail, test_reg/flags within data_len); returns the outputs.
 */
async function getHwInfo(fd: Iommufd, devId: number, dataType: number, dataLen: number) {
  const uptr = dataLen ? place(fd.process, new Uint8Array(dataLen + 16).fill(0xff)) : 0n;
  const out = await fd.ioctl('IOMMU_GET_HW_INFO', {
    dev_id: devId,
    data_len: dataLen,
    in_data_type: dataType,
    data_uptr: uptr,
    flags: dataType === IOMMU_HW_INFO_TYPE_DEFAULT ? 0 : IOMMU_HW_INFO_FLAG_INPUT_TYPE,
  });
  expect(out.out_data_type).toBe(IOMMU_HW_INFO_TYPE_SELFTEST);
  expect(out.data_len).toBe(iommu_test_hw_info.sizeof);
  const all = dataLen ? fd.process.read(uptr, dataLen + 16) : new Uint8Array(0);
  // Nothing is written past data_len.
  expect(all.subarray(dataLen).every((b) => b === 0xff)).toBe(true);
  const data = all.slice(0, dataLen);
  if (dataLen > iommu_test_hw_info.sizeof) {
    expect(data.subarray(iommu_test_hw_info.sizeof).every((b) => b === 0)).toBe(true);
  }
  const dv = new DataView(data.buffer);
  if (dataLen >= 8) expect(dv.getUint32(4, true)).toBe(IOMMU_HW_INFO_SELFTEST_REGVAL);
  if (dataLen >= 4) expect(dv.getUint32(0, true)).toBe(0);
  return out;
}

describe.each(IOAS_VARIANTS)('iommufd_ioas.$name get_hw_info', (variant) => {
  const self = useIoasFixture(variant);

  test('get_hw_info (34, 35)', async () => {
    const { fd, deviceId, devicePasidId } = self();
    const DEFAULT = IOMMU_HW_INFO_TYPE_DEFAULT;
    if (deviceId) {
      await expectOk(getHwInfo(fd, deviceId, DEFAULT, 0));
      await expectOk(getHwInfo(fd, deviceId, DEFAULT, 8));
      await expectErrno('EOPNOTSUPP', getHwInfo(fd, deviceId, IOMMU_HW_INFO_TYPE_SELFTEST + 1, 8));
      await expectOk(getHwInfo(fd, deviceId, IOMMU_HW_INFO_TYPE_SELFTEST, 8));
      await expectOk(getHwInfo(fd, deviceId, DEFAULT, 16));
      await expectOk(getHwInfo(fd, deviceId, DEFAULT, 4));
      expect((await getHwInfo(fd, deviceId, DEFAULT, 0)).out_max_pasid_log2).toBe(0);
      if (variant.pasidCapable) {
        expect((await getHwInfo(fd, devicePasidId, DEFAULT, 0)).out_max_pasid_log2).toBe(MOCK_PASID_WIDTH);
      }
    } else {
      await expectErrno('ENOENT', getHwInfo(fd, deviceId, DEFAULT, 8));
      await expectErrno('ENOENT', getHwInfo(fd, deviceId, DEFAULT, 16));
    }
  });
});

describe('IOMMU_GET_HW_INFO rules (§2.11)', () => {
  const self = useIoasFixture(IOAS_VARIANTS[1]!);

  test('flags and __reserved → EOPNOTSUPP before the device lookup; a non-DEVICE ID → ENOENT', async () => {
    const { fd, ioasId, hwptId, deviceId } = self();
    await expectErrno('EOPNOTSUPP', fd.ioctl('IOMMU_GET_HW_INFO', { dev_id: 0, flags: 2 }));
    await expectErrno('EOPNOTSUPP', rawCall(fd, 'IOMMU_GET_HW_INFO', { dev_id: 0, __reserved: [0, 1, 0] }));
    await expectErrno(
      'EOPNOTSUPP',
      rawCall(fd, 'IOMMU_GET_HW_INFO', { dev_id: deviceId, __reserved: [0, 0, 1] }),
    );
    await expectErrno('ENOENT', fd.ioctl('IOMMU_GET_HW_INFO', { dev_id: ioasId }));
    await expectErrno('ENOENT', fd.ioctl('IOMMU_GET_HW_INFO', { dev_id: hwptId }));
  });

  test('without INPUT_TYPE the requested type is ignored (forced to DEFAULT)', async () => {
    const { fd, deviceId } = self();
    const out = await expectOk(
      fd.ioctl('IOMMU_GET_HW_INFO', { dev_id: deviceId, in_data_type: IOMMU_HW_INFO_TYPE_SELFTEST + 1 }),
    );
    expect(out.out_data_type).toBe(IOMMU_HW_INFO_TYPE_SELFTEST);
  });

  test('out_capabilities: DIRTY_TRACKING unless NO_DIRTY; PCI_ATS_NOT_SUPPORTED always on the mock', async () => {
    const { fd, deviceId, ioasId } = self();
    const caps = async (dev_id: number) =>
      (await fd.ioctl('IOMMU_GET_HW_INFO', { dev_id })).out_capabilities as bigint;
    const both = BigInt(IOMMU_HW_CAP_DIRTY_TRACKING | IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED);
    expect(await caps(deviceId)).toBe(both);
    const noDirty = await mockDomain(fd, ioasId, MOCK_FLAGS_DEVICE_NO_DIRTY);
    expect(await caps(noDirty.idevId)).toBe(BigInt(IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED));
  });
});
