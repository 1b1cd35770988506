import { describe, expect, test } from 'vitest';
import type { DmaResult } from '../../actors/device.ts';
import {
  createFarm,
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED,
  IOMMU_HW_INFO_TYPE_AMD,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  VFIO_DEVICE_ATTACH_PASID,
} from '../../index.ts';
import type { AmdViDriver, AmdViHardware } from '../../vendors/amd-vi/index.ts';
import type { DmaFault } from '../../vendors/hardware.ts';

const LEN = 1n << 16n;
const TEXT = 'hello from the VMM over AMD-Vi';
const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

async function setup(opts: { ats?: boolean; pasidBits?: number; attach?: boolean } = {}) {
  const farm = createFarm({ seed: 3 });
  const host = farm.addHost({ name: 'h0' });
  const iommu = host.addIommu({ name: 'amd0', vendor: 'amd-vi' });
  const dev = host.addDevice({
    name: 'nic0',
    iommu: 'amd0',
    bdf: '0000:03:00.0',
    ats: opts.ats ?? false,
    pasidBits: opts.pasidBits ?? 0,
  });
  const proc = host.spawnProcess({ name: 'vmm' });
  const fd = proc.openIommufd();
  const { out_ioas_id } = await fd.ioctl('IOMMU_IOAS_ALLOC', {});
  const ioas = out_ioas_id as number;
  const vdev = proc.openVfioDevice('nic0');
  const { out_devid } = await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
  if (opts.attach ?? true) await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: ioas });
  const buf = proc.mmap(LEN, { align: 1n << 21n });
  proc.write(buf, new TextEncoder().encode(TEXT));
  const driver = iommu.driver as AmdViDriver;
  const hw = iommu.hw as AmdViHardware;
  const map = async () =>
    (await fd.ioctl('IOMMU_IOAS_MAP', { flags: RW, ioas_id: ioas, user_va: buf, length: LEN }))
      .iova as bigint;
  return { farm, host, dev, proc, fd, vdev, buf, driver, hw, ioas, devId: out_devid as number, map };
}

function fault(r: DmaResult): DmaFault {
  if (r.ok || r.fault.vendor === 'farm')
    throw new Error(`expected an IOMMU fault, got ${JSON.stringify(r.ok)}`);
  return r.fault;
}

function text(r: DmaResult): string {
  if (!r.ok) throw new Error(`DMA faulted: ${r.fault.reason}`);
  return new TextDecoder().decode(r.data);
}

describe('amd-vi through the uAPI', () => {
  test('map, DMA reads the process bytes, unmap, DMA faults with IO_PAGE_FAULT', async () => {
    const s = await setup();
    const iova = await s.map();
    expect(text(await s.dev.dma({ op: 'read', iova, length: TEXT.length }))).toBe(TEXT);
    await s.fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: s.ioas, iova, length: LEN });
    const f = fault(await s.dev.dma({ op: 'read', iova, length: 8 }));
    expect(f).toMatchObject({ vendor: 'amd-vi', reason: 'not-present', rid: 0x300 });
    expect(f.record).toMatchObject({
      event: 'IO_PAGE_FAULT',
      type: 2,
      devid: 0x300,
      address: iova,
      flags: 0,
    });
    await s.farm.settle();
    expect(s.driver.events.at(-1)).toMatchObject({ name: 'IO_PAGE_FAULT', devid: 0x300, address: iova });
    expect(s.driver.errors).toEqual([]);
  });

  test('a DMA write lands in the process memory; a write to a read-only mapping is a permission fault', async () => {
    const s = await setup();
    const iova = await s.map();
    const data = new TextEncoder().encode('written by the device');
    expect((await s.dev.dma({ op: 'write', iova: iova + 0x1000n, length: data.length, data })).ok).toBe(true);
    expect(new TextDecoder().decode(s.proc.read(s.buf + 0x1000n, data.length))).toBe('written by the device');
    const ro = s.proc.mmap(4096n);
    const m = await s.fd.ioctl('IOMMU_IOAS_MAP', {
      flags: IOMMU_IOAS_MAP_READABLE,
      ioas_id: s.ioas,
      user_va: ro,
      length: 4096n,
    });
    const f = fault(await s.dev.dma({ op: 'write', iova: m.iova as bigint, length: 4 }));
    expect(f.reason).toBe('permission');
    expect(f.record).toMatchObject({ event: 'IO_PAGE_FAULT', flags: 0x10 | 0x20 | 0x40 });
  });

  test('an ATS device caches in its ATC; unmap invalidates it before returning', async () => {
    const s = await setup({ ats: true });
    const iova = await s.map();
    expect(text(await s.dev.dma({ op: 'read', iova, length: TEXT.length }))).toBe(TEXT);
    expect(s.dev.atc!.size).toBe(1);
    const hit = await s.dev.dma({ op: 'read', iova, length: 4 });
    expect(hit.ok).toBe(true);
    expect(s.dev.atc!.hits).toBe(1);
    await s.fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: s.ioas, iova, length: LEN });
    expect(s.dev.atc!.size).toBe(0);
    const f = fault(await s.dev.dma({ op: 'read', iova, length: 4 }));
    expect(f.record).toMatchObject({ event: 'IO_PAGE_FAULT', flags: 0x100 });
  });

  test('detach blocks DMA: the DTE goes back to V=1, TV=1, Mode=0', async () => {
    const s = await setup();
    const iova = await s.map();
    expect((await s.dev.dma({ op: 'read', iova, length: 4 })).ok).toBe(true);
    await s.vdev.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {});
    const f = fault(await s.dev.dma({ op: 'read', iova, length: 4 }));
    expect(f.reason).toBe('blocked');
    expect(f.record).toMatchObject({ event: 'IO_PAGE_FAULT', domainId: 0 });
    expect(s.host.phys.readU64(s.driver.devTable + 0x300n * 32n)).toBe(3n);
  });

  test('GET_HW_INFO returns iommu_hw_info_amd with the raw EFR and EFR2', async () => {
    const s = await setup({ ats: true });
    const out = await s.fd.ioctl('IOMMU_GET_HW_INFO', { dev_id: s.devId, data_len: 16 });
    expect(out.out_data_type).toBe(IOMMU_HW_INFO_TYPE_AMD);
    expect(out.data_len).toBe(16);
    const v = new DataView((out.data as Uint8Array).buffer);
    expect(v.getBigUint64(0, true)).toBe(s.hw.efr);
    expect(v.getBigUint64(8, true)).toBe(s.hw.efr2);
    const caps = BigInt(out.out_capabilities as bigint);
    expect(caps & BigInt(IOMMU_HW_CAP_DIRTY_TRACKING)).not.toBe(0n);
    expect(caps & BigInt(IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED)).toBe(0n);
  });

  test('dirty tracking: a device write sets HD, GET_DIRTY_BITMAP reports and clears it', async () => {
    const s = await setup({ attach: false });
    const hwpt = await s.fd.ioctl('IOMMU_HWPT_ALLOC', {
      flags: IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
      dev_id: s.devId,
      pt_id: s.ioas,
    });
    const hwptId = hwpt.out_hwpt_id as number;
    await s.vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: hwptId });
    const iova = await s.map();
    await s.fd.ioctl('IOMMU_HWPT_SET_DIRTY_TRACKING', {
      hwpt_id: hwptId,
      flags: IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
    });
    const dte0 = s.host.phys.readU64(s.driver.devTable + 0x300n * 32n);
    expect((dte0 >> 7n) & 3n).toBe(3n);
    await s.dev.dma({ op: 'write', iova: iova + 0x3000n, length: 8, data: new Uint8Array(8) });
    const bitmap = async () =>
      (
        await s.fd.ioctl('IOMMU_HWPT_GET_DIRTY_BITMAP', {
          hwpt_id: hwptId,
          iova,
          length: LEN,
          page_size: 4096n,
        })
      ).bitmap as Uint8Array;
    expect([...(await bitmap())].slice(0, 2)).toEqual([0x08, 0]);
    expect([...(await bitmap())].slice(0, 2)).toEqual([0, 0]);
    // The cleared bit is set again by the next write: the IOTLB entry was flushed with it.
    await s.dev.dma({ op: 'write', iova: iova + 0x3000n, length: 8, data: new Uint8Array(8) });
    expect([...(await bitmap())].slice(0, 2)).toEqual([0x08, 0]);
  });

  test('a PASID attach of a v2 (GCR3) domain translates PASID-tagged DMA only', async () => {
    const s = await setup({ pasidBits: 8, ats: true });
    const hwpt = await s.fd.ioctl('IOMMU_HWPT_ALLOC', {
      flags: IOMMU_HWPT_ALLOC_PASID,
      dev_id: s.devId,
      pt_id: s.ioas,
    });
    const hwptId = hwpt.out_hwpt_id as number;
    await s.vdev.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {});
    await s.vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', {
      flags: VFIO_DEVICE_ATTACH_PASID,
      pasid: 5,
      pt_id: hwptId,
    });
    const iova = await s.map();
    expect(text(await s.dev.dma({ op: 'read', iova, length: TEXT.length, pasid: 5 }))).toBe(TEXT);
    expect(fault(await s.dev.dma({ op: 'read', iova, length: 4 })).reason).toBe('blocked');
    const other = fault(await s.dev.dma({ op: 'read', iova, length: 4, pasid: 6 }));
    expect(other.record).toMatchObject({ event: 'IO_PAGE_FAULT', pasid: 6 });
    const dte = s.driver.devData(s.dev.ref).gcr3!;
    expect(s.hw.iotlb.entries().some((e) => e.domid === dte.domid && e.pasid === 5)).toBe(true);
    await s.fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: s.ioas, iova, length: LEN });
    expect(fault(await s.dev.dma({ op: 'read', iova, length: 4, pasid: 5 })).record).toMatchObject({
      pasid: 5,
    });
  });
});
