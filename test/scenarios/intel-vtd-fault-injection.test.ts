import { describe, expect, test } from 'vitest';
import { createFarm, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE } from '../../index.ts';
import type { VtdDriver, VtdFaults, VtdHardware } from '../../vendors/intel-vtd/index.ts';

const LEN = 1n << 14n;
const TEXT = 'stale or not';

async function setup(o: { ats?: boolean; firstStage?: boolean; fault?: keyof VtdFaults; hwpt?: boolean }) {
  const farm = createFarm({ seed: 11 });
  const host = farm.addHost({ name: 'h0' });
  // Descriptors slower than a DMA's trip to the IOMMU, so a missing wait is observable.
  const iommu = host.addIommu({
    name: 'dmar0',
    vendor: 'intel-vtd',
    firstStage: o.firstStage ?? true,
    descNs: 1000,
  });
  const dev = host.addDevice({
    name: 'nic0',
    iommu: 'dmar0',
    bdf: '0000:05:00.0',
    ats: o.ats ?? false,
    pasidBits: 8,
  });
  const proc = host.spawnProcess({ name: 'vmm' });
  const fd = proc.openIommufd();
  const { out_ioas_id } = await fd.ioctl('IOMMU_IOAS_ALLOC', {});
  const vdev = proc.openVfioDevice('nic0');
  const { out_devid } = await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
  let pt = out_ioas_id;
  // An explicit HWPT outlives a detach (an auto-domain would be freed with its tables).
  if (o.hwpt)
    pt = (await fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: out_devid, pt_id: out_ioas_id })).out_hwpt_id;
  await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: pt });
  const buf = proc.mmap(LEN);
  proc.write(buf, new TextEncoder().encode(TEXT));
  const flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
  const { iova } = await fd.ioctl('IOMMU_IOAS_MAP', {
    flags,
    ioas_id: out_ioas_id,
    user_va: buf,
    length: LEN,
  });
  const driver = iommu.driver as VtdDriver;
  if (o.fault) driver.faults[o.fault] = true;
  return {
    farm,
    dev,
    fd,
    vdev,
    iova: iova as bigint,
    ioas: out_ioas_id,
    driver,
    hw: iommu.hw as VtdHardware,
  };
}

/** Warm the caches, unmap, and DMA again right away (no settling in between). */
async function dmaAfterUnmap(s: Awaited<ReturnType<typeof setup>>) {
  const warm = await s.dev.dma({ op: 'read', iova: s.iova, length: TEXT.length });
  expect(warm.ok).toBe(true);
  await s.fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: s.ioas, iova: s.iova, length: LEN });
  return s.dev.dma({ op: 'read', iova: s.iova, length: TEXT.length });
}

const decode = (r: { ok: boolean; data?: Uint8Array }) =>
  r.ok ? new TextDecoder().decode(r.data) : undefined;

describe.each([
  { name: 'skipIotlbInvalidation', fault: 'skipIotlbInvalidation', ats: false },
  { name: 'wrongTag', fault: 'wrongTag', ats: false },
  { name: 'skipSync', fault: 'skipSync', ats: false },
  { name: 'skipAtcInvalidation (ATS device)', fault: 'skipAtcInvalidation', ats: true },
] as const)('fault injection: $name', ({ fault, ats }) => {
  test.each([true, false])('first stage %s: the DMA after unmap reads the stale page', async (firstStage) => {
    const s = await setup({ ats, firstStage, fault });
    const r = await dmaAfterUnmap(s);
    expect(decode(r)).toBe(TEXT);
  });

  test.each([true, false])('first stage %s: without the switch it faults', async (firstStage) => {
    const s = await setup({ ats, firstStage });
    const r = await dmaAfterUnmap(s);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.fault).toMatchObject({ vendor: 'intel-vtd', reason: 'not-present' });
  });
});

describe('fault injection: config caches', () => {
  test('skipPasidCacheInvalidation: a detached device still translates through the cached PASID entry', async () => {
    const s = await setup({ fault: 'skipPasidCacheInvalidation', hwpt: true });
    expect((await s.dev.dma({ op: 'read', iova: s.iova, length: 4 })).ok).toBe(true);
    await s.vdev.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {});
    const r = await s.dev.dma({ op: 'read', iova: s.iova + 0x1000n, length: 4 });
    expect(r.ok).toBe(true);
  });

  test('without it, detach blocks DMA with "PASID entry not present"', async () => {
    const s = await setup({ hwpt: true });
    expect((await s.dev.dma({ op: 'read', iova: s.iova, length: 4 })).ok).toBe(true);
    await s.vdev.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {});
    const r = await s.dev.dma({ op: 'read', iova: s.iova + 0x1000n, length: 4 });
    expect(!r.ok && r.fault).toMatchObject({ reason: 'blocked', record: { fr: 0x59 } });
  });

  test('skipSync: once the queue has run, the stale entry is gone', async () => {
    const s = await setup({ fault: 'skipSync' });
    const r = await dmaAfterUnmap(s);
    expect(r.ok).toBe(true);
    await s.farm.settle();
    const again = await s.dev.dma({ op: 'read', iova: s.iova, length: 4 });
    expect(again.ok).toBe(false);
  });
});

describe('the farm-wide switches reach the VT-d driver', () => {
  test.each(['skipIotlbInvalidation', 'wrongInvalidationTag'] as const)(
    'farm.faults.%s → stale DMA',
    async (name) => {
      const s = await setup({});
      s.farm.faults[name] = true;
      expect(decode(await dmaAfterUnmap(s))).toBe(TEXT);
    },
  );
});
