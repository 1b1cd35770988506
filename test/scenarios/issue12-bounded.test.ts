import { describe, expect, test } from 'vitest';
import {
  availableVendors,
  createFarm,
  IOMMU_GET_HW_INFO,
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
  IOMMU_HWPT_GET_DIRTY_BITMAP,
  IOMMU_IOAS_ALLOW_IOVAS,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IommufdError,
  iommu_hw_info,
  iommu_hwpt_get_dirty_bitmap,
  iommu_ioas_allow_iovas,
  type VendorName,
} from '../../index.ts';
import { snapshotCtx } from '../../props/snapshot.ts';

const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
const BASE = 1n << 30n;

async function setup(vendor: VendorName) {
  const farm = createFarm({ seed: 6 });
  const host = farm.addHost({ name: 'h0' });
  host.addIommu({ name: 'iommu0', vendor });
  const nic = host.addDevice({ name: 'nic0', iommu: 'iommu0', bdf: '0000:01:00.0' });
  const vmm = host.spawnProcess({ name: 'vmm', memlockLimit: 1n << 30n });
  const fd = vmm.openIommufd();
  const { out_ioas_id: ioas } = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})) as { out_ioas_id: number };
  const vdev = vmm.openVfioDevice('nic0');
  const { out_devid } = await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
  const devId = out_devid as number;
  /** Places a struct in user memory and returns its VA. */
  const place = (bytes: Uint8Array) => {
    const va = vmm.mmap(4096n);
    vmm.write(va, bytes);
    return va;
  };
  const errno = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: unknown) => (IommufdError.is(e) ? e.errno : e),
    );
  return { farm, host, nic, vmm, fd, ctx: fd.ctx, ioas, vdev, devId, place, errno };
}

describe.each(availableVendors())('issue 12 item 6: user-sized work is bounded on %s', (vendor) => {
  test('IOAS_ALLOW_IOVAS with tens of thousands of ranges: overlap found in n log n, state kept', async () => {
    const s = await setup(vendor);
    const n = 40_000;
    const table = new Uint8Array(n * 16);
    const dv = new DataView(table.buffer);
    for (let i = 0; i < n; i++) {
      dv.setBigUint64(i * 16, BigInt(i) << 24n, true);
      dv.setBigUint64(i * 16 + 8, (BigInt(i) << 24n) + 0xfffffn, true);
    }
    const ranges = s.vmm.mmap(BigInt(table.length));
    s.vmm.write(ranges, table);
    const call = (count: number) =>
      s.fd.ioctlRaw(
        IOMMU_IOAS_ALLOW_IOVAS,
        s.place(
          iommu_ioas_allow_iovas.encode({
            size: iommu_ioas_allow_iovas.sizeof,
            ioas_id: s.ioas,
            num_iovas: count,
            allowed_iovas: ranges,
          }),
        ),
      );
    const started = performance.now();
    expect(await s.errno(call(n))).toBe('ok');
    const after = snapshotCtx(s.ctx, s.vmm);
    expect(after.ioas[s.ioas]!.allowed.length).toBe(n);
    // The last entry overlaps the first: EINVAL, and the allowed set stays as it was.
    dv.setBigUint64((n - 1) * 16, 0x80000n, true);
    dv.setBigUint64((n - 1) * 16 + 8, 0x8ffffn, true);
    s.vmm.write(ranges, table);
    expect(await s.errno(call(n))).toBe('EINVAL');
    expect(snapshotCtx(s.ctx, s.vmm)).toEqual(after);
    // A count far past the user's table stops at its end (the zeros after it, or the hole after
    // its mapping), not after 2^32 entries.
    expect(['EINVAL', 'EFAULT']).toContain(await s.errno(call(0xffff_ffff)));
    expect(snapshotCtx(s.ctx, s.vmm)).toEqual(after);
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  test('GET_HW_INFO with data_len 4 GiB - 1 and a 4 KiB buffer: EFAULT, no 4 GiB zero-fill', async () => {
    const s = await setup(vendor);
    const before = snapshotCtx(s.ctx, s.vmm);
    const frames = s.host.phys.stats().allocatedFrames;
    const buf = s.vmm.mmap(4096n);
    const va = s.place(
      iommu_hw_info.encode({
        size: iommu_hw_info.sizeof,
        dev_id: s.devId,
        data_len: 0xffff_ffff,
        data_uptr: buf,
      }),
    );
    expect(await s.errno(s.fd.ioctlRaw(IOMMU_GET_HW_INFO, va))).toBe('EFAULT');
    expect(snapshotCtx(s.ctx, s.vmm)).toEqual(before);
    // clear_user stops at the first hole past the buffer: a few pages, never 4 GiB of them.
    expect(s.host.phys.stats().allocatedFrames - frames).toBeLessThan(64);
  });

  test('GET_DIRTY_BITMAP: the work follows the bitmap the user has, one chunk at a time', async () => {
    const s = await setup(vendor);
    const info = await s.fd.ioctl('IOMMU_GET_HW_INFO', { dev_id: s.devId });
    const dirtyCapable =
      (BigInt(info.out_capabilities as bigint) & BigInt(IOMMU_HW_CAP_DIRTY_TRACKING)) !== 0n;
    const alloc = s.fd.ioctl('IOMMU_HWPT_ALLOC', {
      flags: IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
      dev_id: s.devId,
      pt_id: s.ioas,
    });
    if (!dirtyCapable) {
      expect(await s.errno(alloc)).toBe('EOPNOTSUPP');
      return;
    }
    const hwpt = (await alloc).out_hwpt_id as number;
    await s.vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: hwpt });
    const len = 16n << 20n;
    const buf = s.vmm.mmap(len, { align: 2n << 20n });
    await s.fd.ioctl('IOMMU_IOAS_MAP', {
      flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA,
      ioas_id: s.ioas,
      user_va: buf,
      length: len,
      iova: BASE,
    });
    await s.fd.ioctl('IOMMU_HWPT_SET_DIRTY_TRACKING', {
      hwpt_id: hwpt,
      flags: IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
    });
    const get = (pageSize: bigint, data: bigint) =>
      s.fd.ioctlRaw(
        IOMMU_HWPT_GET_DIRTY_BITMAP,
        s.place(
          iommu_hwpt_get_dirty_bitmap.encode({
            size: iommu_hwpt_get_dirty_bitmap.sizeof,
            hwpt_id: hwpt,
            iova: BASE,
            length: len,
            page_size: pageSize,
            data,
          }),
        ),
      );
    const small = s.vmm.mmap(4096n);
    await get(4096n, small); // clear what the map left dirty
    s.vmm.write(small, new Uint8Array(4096));
    await s.nic.dma({ op: 'write', iova: BASE + 0x5000n, length: 8, data: new Uint8Array(8) });
    expect(await s.errno(get(4096n, small))).toBe('ok');
    expect(s.vmm.read(small, 1)[0]! & 0x20).toBe(0x20);
    // page_size 1: 16 Mi bits (2 MiB of bitmap) for a 4 KiB buffer stops at the bitmap's edge.
    const started = performance.now();
    expect(await s.errno(get(1n, small))).toBe('EFAULT');
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

test('a hugetlb mmap beyond free memory is ENOMEM at once, before any huge page is taken', async () => {
  const farm = createFarm({ seed: 6 });
  const host = farm.addHost({ name: 'h0' });
  const vmm = host.spawnProcess({ name: 'vmm' });
  const frames = host.phys.stats().allocatedFrames;
  const started = performance.now();
  let errno: unknown;
  try {
    vmm.mmap(1n << 40n, { hugetlb: true, shared: true });
  } catch (e) {
    errno = IommufdError.is(e) ? e.errno : e;
  }
  expect(errno).toBe('ENOMEM');
  expect(host.phys.stats().allocatedFrames).toBe(frames);
  expect(performance.now() - started).toBeLessThan(1_000);
  // A mapping that fits still works.
  const va = vmm.mmap(2n << 20n, { hugetlb: true, shared: true });
  vmm.write(va, new Uint8Array([1, 2, 3]));
  expect([...vmm.read(va, 3)]).toEqual([1, 2, 3]);
});
