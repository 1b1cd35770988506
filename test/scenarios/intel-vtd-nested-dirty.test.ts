import { describe, expect, test } from 'vitest';
import {
  createFarm,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_VTD_S1,
  IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
  IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  iommu_hwpt_vtd_s1,
  iommu_hwpt_vtd_s1_invalidate,
} from '../../index.ts';
import type { VtdDriver } from '../../vendors/intel-vtd/index.ts';

const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

async function vm() {
  const farm = createFarm({ seed: 5 });
  const host = farm.addHost({ name: 'h0' });
  const iommu = host.addIommu({ name: 'dmar0', vendor: 'intel-vtd' });
  const dev = host.addDevice({ name: 'nic0', iommu: 'dmar0', bdf: '0000:06:00.0' });
  const proc = host.spawnProcess({ name: 'qemu' });
  const fd = proc.openIommufd();
  const { out_ioas_id: ioas } = await fd.ioctl('IOMMU_IOAS_ALLOC', {});
  const vdev = proc.openVfioDevice('nic0');
  const { out_devid: devId } = await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
  /** Places bytes in the process and returns their VA (for `data_uptr`). */
  const place = (bytes: Uint8Array) => {
    const va = proc.mmap(4096);
    proc.write(va, bytes);
    return va;
  };
  return {
    farm,
    host,
    dev,
    proc,
    fd,
    vdev,
    ioas,
    devId: devId as number,
    place,
    driver: iommu.driver as VtdDriver,
  };
}

describe('intel-vtd nested translation through the uAPI', () => {
  test('a guest stage 1 in guest RAM, on a nest-parent stage 2; IOMMU_HWPT_INVALIDATE refreshes it', async () => {
    const s = await vm();
    const GPA = 0x1_0000_0000n;
    const ram = s.proc.mmap(8n * 4096n);
    await s.fd.ioctl('IOMMU_IOAS_MAP', {
      flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA,
      ioas_id: s.ioas,
      user_va: ram,
      length: 8n * 4096n,
      iova: GPA,
    });
    const { out_hwpt_id: parent } = await s.fd.ioctl('IOMMU_HWPT_ALLOC', {
      dev_id: s.devId,
      pt_id: s.ioas,
      flags: IOMMU_HWPT_ALLOC_NEST_PARENT,
    });
    // Guest page tables: pages 0..3 of guest RAM are PML4, PDPT, PD, PT; pages 4 and 5 are data.
    const GVA = 0x7000_0000n;
    const pte = (gpa: bigint, leaf = false) => gpa | 0x27n | (leaf ? 0x40n : 0n); // P RW US A (D)
    const put = (page: number, index: bigint, v: bigint) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, v, true);
      s.proc.write(ram + BigInt(page) * 4096n + index * 8n, b);
    };
    for (let level = 4; level >= 2; level--) {
      put(4 - level, (GVA >> BigInt(12 + 9 * (level - 1))) & 0x1ffn, pte(GPA + BigInt(5 - level) * 4096n));
    }
    const leaf = (dataPage: number) =>
      put(3, (GVA >> 12n) & 0x1ffn, pte(GPA + BigInt(dataPage) * 4096n, true));
    leaf(4);
    s.proc.write(ram + 4n * 4096n, Uint8Array.of(0xa4));
    s.proc.write(ram + 5n * 4096n, Uint8Array.of(0xa5));
    const s1 = iommu_hwpt_vtd_s1.encode({ flags: 0n, pgtbl_addr: GPA, addr_width: 48 });
    const { out_hwpt_id: nested } = await s.fd.ioctl('IOMMU_HWPT_ALLOC', {
      dev_id: s.devId,
      pt_id: parent,
      data_type: IOMMU_HWPT_DATA_VTD_S1,
      data_len: s1.length,
      data_uptr: s.place(s1),
    });
    await s.vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: nested });
    const r = await s.dev.dma({ op: 'read', iova: GVA, length: 1 });
    expect(r.ok && r.data![0]).toBe(0xa4);
    leaf(5);
    const stale = await s.dev.dma({ op: 'read', iova: GVA, length: 1 });
    expect(stale.ok && stale.data![0]).toBe(0xa4);
    const inv = iommu_hwpt_vtd_s1_invalidate.encode({ addr: GVA, npages: 1n });
    const out = await s.fd.ioctl('IOMMU_HWPT_INVALIDATE', {
      hwpt_id: nested,
      data_uptr: s.place(inv),
      data_type: IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
      entry_len: inv.length,
      entry_num: 1,
    });
    expect(out.entry_num).toBe(1);
    const fresh = await s.dev.dma({ op: 'read', iova: GVA, length: 1 });
    expect(fresh.ok && fresh.data![0]).toBe(0xa5);
    // A paging HWPT cannot take user invalidations.
    await expect(
      s.fd.ioctl('IOMMU_HWPT_INVALIDATE', {
        hwpt_id: parent,
        data_uptr: s.place(inv),
        data_type: IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
        entry_len: inv.length,
        entry_num: 1,
      }),
    ).rejects.toMatchObject({ errno: 'EINVAL' });
  });
});

describe('intel-vtd dirty tracking through the uAPI', () => {
  test('SET_DIRTY_TRACKING, a device write, GET_DIRTY_BITMAP shows exactly that page', async () => {
    const s = await vm();
    const { out_hwpt_id: hwpt } = await s.fd.ioctl('IOMMU_HWPT_ALLOC', {
      dev_id: s.devId,
      pt_id: s.ioas,
      flags: IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
    });
    await s.vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: hwpt });
    const LEN = 16n * 4096n;
    const buf = s.proc.mmap(LEN);
    const { iova } = await s.fd.ioctl('IOMMU_IOAS_MAP', {
      flags: RW,
      ioas_id: s.ioas,
      user_va: buf,
      length: LEN,
    });
    await s.fd.ioctl('IOMMU_HWPT_SET_DIRTY_TRACKING', {
      hwpt_id: hwpt,
      flags: IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
    });
    expect(s.driver.probe(s.dev.ref).readEntry(0)?.ssade).toBe(true);
    await s.dev.dma({ op: 'write', iova: (iova as bigint) + 5n * 4096n, length: 16 });
    const bitmap = s.proc.mmap(4096);
    const get = () =>
      s.fd.ioctl('IOMMU_HWPT_GET_DIRTY_BITMAP', {
        hwpt_id: hwpt,
        iova,
        length: LEN,
        page_size: 4096n,
        data: bitmap,
        flags: 0,
      });
    await get();
    expect(new DataView(s.proc.read(bitmap, 8).buffer).getBigUint64(0, true)).toBe(1n << 5n);
    s.proc.write(bitmap, new Uint8Array(8));
    await get();
    expect(new DataView(s.proc.read(bitmap, 8).buffer).getBigUint64(0, true)).toBe(0n);
  });
});
