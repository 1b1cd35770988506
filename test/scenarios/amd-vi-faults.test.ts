import { describe, expect, test } from 'vitest';
import { createFarm, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE } from '../../index.ts';
import type { AmdViDriver, AmdViFaults } from '../../vendors/amd-vi/index.ts';

const LEN = 1n << 14n;
const TEXT = 'secret that must not outlive the unmap';

/** Maps a buffer, warms the IOTLB (and ATC) with a DMA, breaks the driver as asked, unmaps. */
async function unmapWith(faults: AmdViFaults, ats: boolean) {
  const farm = createFarm({ seed: 11 });
  const host = farm.addHost({ name: 'h0' });
  // Slow commands (5 µs each) widen the window a missing sync leaves open: the DMA (240 ns) wins.
  const iommu = host.addIommu({ name: 'amd0', vendor: 'amd-vi', cmdNs: 5_000 });
  const dev = host.addDevice({ name: 'nic0', iommu: 'amd0', ats });
  const proc = host.spawnProcess({ name: 'vmm' });
  const fd = proc.openIommufd();
  const { out_ioas_id } = await fd.ioctl('IOMMU_IOAS_ALLOC', {});
  const vdev = proc.openVfioDevice('nic0');
  await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
  await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: out_ioas_id });
  const buf = proc.mmap(LEN);
  proc.write(buf, new TextEncoder().encode(TEXT));
  const flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
  const m = await fd.ioctl('IOMMU_IOAS_MAP', { flags, ioas_id: out_ioas_id, user_va: buf, length: LEN });
  const iova = m.iova as bigint;
  const warm = await dev.dma({ op: 'read', iova, length: TEXT.length });
  expect(warm.ok).toBe(true);
  Object.assign((iommu.driver as AmdViDriver).faults, faults);
  await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: out_ioas_id, iova, length: LEN });
  const after = await dev.dma({ op: 'read', iova, length: TEXT.length });
  return { after, dev };
}

const CASES: Array<[string, AmdViFaults, boolean]> = [
  ['skipIotlbInvalidation', { skipIotlbInvalidation: true }, false],
  ['skipSync', { skipSync: true }, false],
  ['wrongTag', { wrongTag: true }, false],
  ['skipAtcInvalidation (ATS device)', { skipAtcInvalidation: true }, true],
  [
    'skipIotlbInvalidation (ATS device refills its ATC from the stale IOTLB)',
    { skipIotlbInvalidation: true },
    true,
  ],
];

describe('amd-vi fault injection: a forgotten step is a stale DMA', () => {
  test.each(CASES)('%s: the DMA after unmap still reads the old page', async (_name, faults, ats) => {
    const { after } = await unmapWith(faults, ats);
    expect(after.ok).toBe(true);
    expect(after.ok && new TextDecoder().decode(after.data)).toBe(TEXT);
  });

  test('skipDteInvalidation: after detach the DTE cache still points the device at the old table', async () => {
    const farm = createFarm({ seed: 12 });
    const host = farm.addHost({ name: 'h0' });
    const iommu = host.addIommu({ name: 'amd0', vendor: 'amd-vi' });
    const dev = host.addDevice({ name: 'nic0', iommu: 'amd0' });
    const proc = host.spawnProcess({ name: 'vmm' });
    const fd = proc.openIommufd();
    const { out_ioas_id } = await fd.ioctl('IOMMU_IOAS_ALLOC', {});
    const vdev = proc.openVfioDevice('nic0');
    const { out_devid } = await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
    const { out_hwpt_id } = await fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: out_devid, pt_id: out_ioas_id });
    await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: out_hwpt_id });
    const buf = proc.mmap(LEN);
    proc.write(buf, new TextEncoder().encode(TEXT));
    const flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
    const m = await fd.ioctl('IOMMU_IOAS_MAP', { flags, ioas_id: out_ioas_id, user_va: buf, length: LEN });
    const iova = m.iova as bigint;
    expect((await dev.dma({ op: 'read', iova, length: 4 })).ok).toBe(true);
    const driver = iommu.driver as AmdViDriver;
    driver.faults.skipDteInvalidation = true;
    await vdev.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {});
    expect((await dev.dma({ op: 'read', iova, length: 4 })).ok).toBe(true);
    driver.faults.skipDteInvalidation = false;
    await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: out_hwpt_id });
    await vdev.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {});
    expect((await dev.dma({ op: 'read', iova, length: 4 })).ok).toBe(false);
  });

  test.each([false, true])('without a switch (ATS %s) the same DMA faults', async (ats) => {
    const { after, dev } = await unmapWith({}, ats);
    expect(after.ok).toBe(false);
    if (ats) expect(dev.atc!.size).toBe(0);
  });
});
