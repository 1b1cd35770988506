import { describe, expect, test } from 'vitest';
import type { IommufdObject } from '../../actors/iommufd/object.ts';
import {
  availableVendors,
  createFarm,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IommufdError,
  type VendorName,
  VFIO_DEVICE_ATTACH_PASID,
} from '../../index.ts';
import { snapshotCtx } from '../../props/snapshot.ts';
import type { Domain } from '../../vendors/driver.ts';

const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
const LEN = 2n << 20n;

/** A two-device group; nic0 bound and attached (RID) to a PASID-capable HWPT; nic1 never bound. */
async function setup(vendor: VendorName) {
  const farm = createFarm({ seed: 12 });
  const host = farm.addHost({ name: 'h0' });
  host.addIommu({ name: 'iommu0', vendor });
  host.addDevice({ name: 'nic0', iommu: 'iommu0', bdf: '0000:01:00.0', group: 'g0', pasidBits: 8 });
  const nic1 = host.addDevice({
    name: 'nic1',
    iommu: 'iommu0',
    bdf: '0000:01:00.1',
    group: 'g0',
    pasidBits: 8,
  });
  const vmm = host.spawnProcess({ name: 'vmm', memlockLimit: 1n << 30n });
  const fd = vmm.openIommufd();
  const { out_ioas_id: ioas } = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})) as { out_ioas_id: number };
  const vdev = vmm.openVfioDevice('nic0');
  const { out_devid } = await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
  const h = await fd.ioctl('IOMMU_HWPT_ALLOC', {
    flags: IOMMU_HWPT_ALLOC_PASID,
    dev_id: out_devid,
    pt_id: ioas,
  });
  const hwpt = h.out_hwpt_id as number;
  await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: hwpt });
  const buf = vmm.mmap(LEN);
  vmm.write(buf, new TextEncoder().encode('secret'));
  const { iova } = (await fd.ioctl('IOMMU_IOAS_MAP', {
    flags: RW,
    ioas_id: ioas,
    user_va: buf,
    length: LEN,
  })) as {
    iova: bigint;
  };
  const ctx = fd.ctx;
  return { farm, host, nic1, vmm, fd, ctx, vdev, hwpt, iova };
}

/** Closes everything and checks the ctx is gone whole: no pins, no group owner, the group blocked. */
async function closeAndCheck(s: Awaited<ReturnType<typeof setup>>) {
  await s.vdev.close();
  await s.fd.close();
  await s.farm.settle();
  expect(s.ctx.closed).toBe(true);
  expect(s.ctx.liveObjects()).toEqual([]);
  expect(s.vmm.mm.counters.pinnedPages).toBe(0n);
  expect(s.vmm.user.lockedPages).toBe(0n);
  expect(s.host.core.groups.get('g0')!.ownerCount).toBe(0);
  const d = await s.nic1.dma({ op: 'read', iova: s.iova, length: 6 });
  expect(d.ok).toBe(false);
  expect(!d.ok && d.fault.reason).toBe('blocked');
}

describe.each(availableVendors())('issue 12, PASID 0 and teardown on %s', (vendor) => {
  test('ATTACH with the PASID flag and PASID 0 (IOMMU_NO_PASID) is EINVAL and changes nothing', async () => {
    const s = await setup(vendor);
    const before = snapshotCtx(s.ctx, s.vmm);
    for (const pt_id of [s.hwpt, before.ioas ? Number(Object.keys(before.ioas)[0]) : s.hwpt]) {
      const err = await s.vdev
        .ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { flags: VFIO_DEVICE_ATTACH_PASID, pasid: 0, pt_id })
        .catch((e: unknown) => e);
      expect(IommufdError.is(err) && err.errno).toBe('EINVAL');
      expect(snapshotCtx(s.ctx, s.vmm)).toEqual(before);
    }
    expect(s.host.core.warnings).toEqual([]);
    await closeAndCheck(s);
    expect(s.host.core.warnings).toEqual([]);
  });

  test('a driver that fails to block during close still leaves the ctx fully released and the group blocked', async () => {
    const s = await setup(vendor);
    const blocked = s.host.core.iommus.get('iommu0')!.driver.blockedDomain as {
      attachDev: (...a: unknown[]) => Promise<void>;
    };
    const real = blocked.attachDev;
    let failures = 0;
    blocked.attachDev = async (...a: unknown[]) => {
      if (failures++ === 0) throw new TypeError('injected driver bug');
      return real.apply(blocked, a);
    };
    try {
      await closeAndCheck(s);
    } finally {
      blocked.attachDev = real;
    }
    expect(s.host.core.warnings.length).toBe(1);
    expect(s.host.core.warnings[0]).toMatch(/injected driver bug/);
    const stale = await s.host.device('nic0').dma({ op: 'read', iova: s.iova, length: 6 });
    expect(!stale.ok && stale.fault.reason).toBe('blocked');
    // The device the driver failed on is fenced until an attach succeeds again.
    const other = s.host.spawnProcess({ name: 'other', memlockLimit: 1n << 30n });
    const ofd = other.openIommufd();
    const { out_ioas_id } = (await ofd.ioctl('IOMMU_IOAS_ALLOC', {})) as { out_ioas_id: number };
    const v = other.openVfioDevice('nic0');
    await v.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: ofd.fd });
    await v.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: out_ioas_id });
    const buf = other.mmap(0x4000n);
    other.write(buf, new TextEncoder().encode('fresh'));
    const { iova } = (await ofd.ioctl('IOMMU_IOAS_MAP', {
      flags: RW,
      ioas_id: out_ioas_id,
      user_va: buf,
      length: 0x4000n,
    })) as { iova: bigint };
    const nic0 = s.host.device('nic0');
    const r = await nic0.dma({ op: 'read', iova, length: 5 });
    expect(r.ok && new TextDecoder().decode(r.data)).toBe('fresh');
  });
});

test('AMD-Vi set_dev_pasid refuses PASID 0 even for the RID’s own v2 domain (GCR3 slot 0 is the RID’s)', async () => {
  const s = await setup('amd-vi');
  const hwpt = s.ctx.objects.get<{ domain: Domain } & IommufdObject>(s.hwpt);
  const dev = s.host.device('nic0').ref;
  const err = await hwpt.domain.attachDev(dev, 0, undefined).catch((e: unknown) => e);
  expect(IommufdError.is(err) && err.errno).toBe('EINVAL');
  const blocked = hwpt.domain.driver.blockedDomain;
  const derr = await blocked.attachDev(dev, 0, hwpt.domain).catch((e: unknown) => e);
  expect(IommufdError.is(derr) && derr.errno).toBe('EINVAL');
  // The RID still translates through its v2 table, and the whole teardown stays clean.
  const r = await s.host.device('nic0').dma({ op: 'read', iova: s.iova, length: 6 });
  expect(r.ok && new TextDecoder().decode(r.data)).toBe('secret');
  await closeAndCheck(s);
  expect(s.host.core.warnings).toEqual([]);
});
