import { describe, expect, test } from 'vitest';
import type { IommufdDevice } from '../../../actors/iommufd/device.ts';
import type { Viommu } from '../../../actors/iommufd/viommu.ts';
import {
  IOMMU_TEST_DEV_CACHE_DEFAULT,
  IOMMU_TEST_OP_DEV_CHECK_CACHE,
  IommufdError,
  MOCK_DEV_CACHE_NUM,
} from '../../../index.ts';
import { destroy, mockDomain, nextId, replace, viommuFixture } from './viommu-fixture.ts';

type Fixture = Awaited<ReturnType<typeof viommuFixture>>;

function vdevAlloc(f: Fixture, fields: { viommu_id?: number; dev_id?: number; virt_id?: bigint } = {}) {
  return f.fd.ioctl('IOMMU_VDEVICE_ALLOC', {
    viommu_id: f.viommuId,
    dev_id: f.idevId,
    virt_id: 0x99n,
    ...fields,
  });
}

function secondDevice(f: Fixture) {
  return mockDomain(f.fd, f.ioasId);
}

function checkCache(f: Fixture, idevId: number, cacheId: number, cache: number) {
  return f.fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_DEV_CHECK_CACHE,
    id: idevId,
    check_dev_cache: { id: cacheId, cache },
  });
}

describe('IOMMU_VDEVICE_ALLOC', () => {
  test('ENOENT for a missing vIOMMU, then for a missing device; IDs untouched', async () => {
    const f = await viommuFixture();
    const before = await nextId(f.fd);
    await expect(vdevAlloc(f, { viommu_id: 0, dev_id: 0 })).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(vdevAlloc(f, { viommu_id: f.ioasId })).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(vdevAlloc(f, { dev_id: f.stdevId })).rejects.toMatchObject({ errno: 'ENOENT' });
    expect(await nextId(f.fd)).toBe(before);
  });

  test('a device behind another IOMMU instance is EINVAL', async () => {
    const f = await viommuFixture();
    f.host.addIommu({ name: 'mock2', vendor: 'mock' });
    f.host.addDevice({ name: 'other', iommu: 'mock2' });
    const vfio = f.proc.openVfioDevice('other');
    const { out_devid } = await vfio.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: f.fd.fd });
    await expect(vdevAlloc(f, { dev_id: out_devid as number })).rejects.toMatchObject({ errno: 'EINVAL' });
  });

  test('one vDEVICE per device, one per virt_id; duplicates leave the winner in place', async () => {
    const f = await viommuFixture();
    const { out_vdevice_id } = await vdevAlloc(f);
    const vdevId = out_vdevice_id as number;
    const two = await secondDevice(f);
    const before = await nextId(f.fd);
    await expect(vdevAlloc(f, { virt_id: 0x100n })).rejects.toMatchObject({ errno: 'EEXIST' });
    await expect(vdevAlloc(f, { dev_id: two.idevId })).rejects.toMatchObject({ errno: 'EEXIST' });
    expect(await nextId(f.fd)).toBe(before);
    const viommu = f.fd.ctx.objects.get<Viommu>(f.viommuId, 'VIOMMU');
    expect(viommu.vdevs.get(0x99n)?.id).toBe(vdevId);
    const dev2 = f.fd.ctx.objects.get<IommufdDevice>(two.idevId, 'DEVICE');
    expect(dev2.vdev).toBeUndefined();
    const { out_vdevice_id: second } = await vdevAlloc(f, { dev_id: two.idevId, virt_id: 0x100n });
    expect(second).toBe(before);
  });

  test('the vDEVICE holds the vIOMMU; DESTROY frees the virt_id and the device slot', async () => {
    const f = await viommuFixture();
    const { out_vdevice_id } = await vdevAlloc(f);
    await destroy(f.fd, f.nestedId);
    await expect(destroy(f.fd, f.viommuId)).rejects.toMatchObject({ errno: 'EBUSY' });
    await expect(destroy(f.fd, f.idevId)).rejects.toMatchObject({ errno: 'EBUSY' });
    await destroy(f.fd, out_vdevice_id as number);
    const again = await vdevAlloc(f);
    await destroy(f.fd, again.out_vdevice_id as number);
    await destroy(f.fd, f.viommuId);
  });

  test('a nested HWPT of the vIOMMU attaches only once the device has a vDEVICE there', async () => {
    const f = await viommuFixture();
    await expect(replace(f.fd, f.stdevId, f.nestedId)).rejects.toMatchObject({ errno: 'ENOENT' });
    const { out_vdevice_id } = await vdevAlloc(f);
    await replace(f.fd, f.stdevId, f.nestedId);
    await replace(f.fd, f.stdevId, f.ioasId);
    await destroy(f.fd, out_vdevice_id as number);
  });

  test('unbinding the device tombstones the vDEVICE: its ID reads ENOENT and is never reused', async () => {
    const f = await viommuFixture();
    const { out_vdevice_id } = await vdevAlloc(f);
    const vdevId = out_vdevice_id as number;
    const viommu = f.fd.ctx.objects.get<Viommu>(f.viommuId, 'VIOMMU');
    const users = viommu.users;
    await destroy(f.fd, f.stdevId);
    await expect(destroy(f.fd, vdevId)).rejects.toMatchObject({ errno: 'ENOENT' });
    expect(viommu.users).toBe(users - 1);
    expect(viommu.vdevs.size).toBe(0);
    expect(f.fd.ctx.objects.isTaken(vdevId)).toBe(true);
    expect(await nextId(f.fd)).not.toBe(vdevId);
    await destroy(f.fd, f.nestedId);
    await destroy(f.fd, f.viommuId);
    await f.fd.close();
    expect(f.fd.ctx.objects.size).toBe(0);
  });

  test('a device being unbound is ENOENT', async () => {
    const f = await viommuFixture();
    const idev = f.fd.ctx.objects.get<IommufdDevice>(f.idevId, 'DEVICE');
    idev.destroying = true;
    await expect(vdevAlloc(f)).rejects.toMatchObject({ errno: 'ENOENT' });
    idev.destroying = false;
  });

  test('a failing driver vdevice_init rolls everything back', async () => {
    const f = await viommuFixture();
    const viommu = f.fd.ctx.objects.get<Viommu>(f.viommuId, 'VIOMMU');
    const idev = f.fd.ctx.objects.get<IommufdDevice>(f.idevId, 'DEVICE');
    const [vUsers, dUsers] = [viommu.users, idev.users];
    const before = await nextId(f.fd);
    const ops = viommu.ops as { vdeviceInit?: (v: unknown) => void };
    const real = ops.vdeviceInit;
    ops.vdeviceInit = () => {
      throw new IommufdError('ENOMEM', 'injected');
    };
    await expect(vdevAlloc(f)).rejects.toMatchObject({ errno: 'ENOMEM' });
    ops.vdeviceInit = real;
    expect([viommu.users, idev.users]).toEqual([vUsers, dUsers]);
    expect(idev.vdev).toBeUndefined();
    expect(viommu.vdevs.size).toBe(0);
    expect(await nextId(f.fd)).toBe(before);
    const ok = await vdevAlloc(f);
    expect(ok.out_vdevice_id).toBe(before);
  });

  test('close with a vDEVICE alive destroys everything', async () => {
    const f = await viommuFixture();
    await vdevAlloc(f);
    await replace(f.fd, f.stdevId, f.nestedId);
    await f.fd.close();
    expect(f.fd.ctx.objects.size).toBe(0);
  });
});

describe('IOMMU_TEST_OP_DEV_CHECK_CACHE', () => {
  test('every entry starts at IOMMU_TEST_DEV_CACHE_DEFAULT; bad id or value EINVAL; id is the DEVICE', async () => {
    const f = await viommuFixture();
    for (let i = 0; i < MOCK_DEV_CACHE_NUM; i++)
      await checkCache(f, f.idevId, i, IOMMU_TEST_DEV_CACHE_DEFAULT);
    await expect(checkCache(f, f.idevId, 0, 0)).rejects.toMatchObject({ errno: 'EINVAL' });
    await expect(
      checkCache(f, f.idevId, MOCK_DEV_CACHE_NUM, IOMMU_TEST_DEV_CACHE_DEFAULT),
    ).rejects.toMatchObject({ errno: 'EINVAL' });
    await expect(checkCache(f, f.stdevId, 0, IOMMU_TEST_DEV_CACHE_DEFAULT)).rejects.toMatchObject({
      errno: 'ENOENT',
    });
  });
});
