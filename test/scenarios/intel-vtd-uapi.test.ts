import { describe, expect, test } from 'vitest';
import {
  createFarm,
  IOMMU_HW_INFO_TYPE_INTEL_VTD,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  iommu_hw_info_vtd,
} from '../../index.ts';
import type { VtdDriver, VtdHardware } from '../../vendors/intel-vtd/index.ts';

const LEN = 1n << 16n;
const TEXT = 'hello from the VMM over VT-d';

async function setup(opts: { ats?: boolean; firstStage?: boolean } = {}) {
  const farm = createFarm({ seed: 7 });
  const host = farm.addHost({ name: 'h0' });
  const iommu = host.addIommu({ name: 'dmar0', vendor: 'intel-vtd', firstStage: opts.firstStage ?? true });
  const dev = host.addDevice({
    name: 'nic0',
    iommu: 'dmar0',
    bdf: '0000:02:00.0',
    ats: opts.ats ?? false,
    pasidBits: 20,
  });
  const proc = host.spawnProcess({ name: 'vmm' });
  const fd = proc.openIommufd();
  const { out_ioas_id } = await fd.ioctl('IOMMU_IOAS_ALLOC', {});
  const vdev = proc.openVfioDevice('nic0');
  const { out_devid } = await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
  await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: out_ioas_id });
  const buf = proc.mmap(LEN, { align: 1n << 21n });
  proc.write(buf, new TextEncoder().encode(TEXT));
  const flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
  const m = await fd.ioctl('IOMMU_IOAS_MAP', { flags, ioas_id: out_ioas_id, user_va: buf, length: LEN });
  const iova = m.iova as bigint;
  const driver = iommu.driver as VtdDriver;
  const hw = iommu.hw as VtdHardware;
  const unmap = () => fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: out_ioas_id, iova, length: LEN });
  return { farm, host, dev, proc, fd, vdev, iova, driver, hw, unmap, devid: out_devid as number, buf };
}

describe.each([
  { firstStage: true, ats: false },
  { firstStage: false, ats: false },
  { firstStage: true, ats: true },
])('intel-vtd through the uAPI (first stage $firstStage, ATS $ats)', (opts) => {
  test('map, DMA reads the process bytes, unmap, DMA faults with a VT-d fault record', async () => {
    const s = await setup(opts);
    const r = await s.dev.dma({ op: 'read', iova: s.iova, length: TEXT.length });
    expect(r.ok && new TextDecoder().decode(r.data)).toBe(TEXT);
    const w = await s.dev.dma({
      op: 'write',
      iova: s.iova + 0x1000n,
      length: 4,
      data: Uint8Array.of(1, 2, 3, 4),
    });
    expect(w.ok).toBe(true);
    expect([...s.proc.read(s.buf + 0x1000n, 4)]).toEqual([1, 2, 3, 4]);
    await s.unmap();
    const r2 = await s.dev.dma({ op: 'read', iova: s.iova, length: 8 });
    expect(r2.ok).toBe(false);
    if (r2.ok || r2.fault.vendor !== 'intel-vtd') throw new Error('expected a VT-d fault');
    // First stage: P clear in the first-level entry; second stage: R=W=0 in the leaf.
    const fr = opts.firstStage ? 0x71 : 0x79;
    expect(r2.fault).toMatchObject({ vendor: 'intel-vtd', reason: 'not-present', rid: 0x0200, iova: s.iova });
    // An ATS Translation Request reports the fault in its completion, not in FRCD.
    const recorded = opts.ats ? 'translation-request' : 'yes';
    expect(r2.fault.record).toMatchObject({ fr, sid: 0x0200, addr: s.iova, type: 'read', recorded });
    await s.farm.settle();
    if (!opts.ats) {
      // The driver's fault handler read the record out of FRCD and cleared it.
      expect(s.driver.irqs.faultLog.at(-1)).toMatchObject({ fr, sid: 0x0200, addr: s.iova, write: false });
    } else expect(s.driver.irqs.faultLog).toEqual([]);
    expect(s.hw.faults.ppf).toBe(false);
  });

  test('the unmap submission is one [IOTLB (+ dev-TLB) + wait] batch, as Linux 6.12 issues it', async () => {
    const s = await setup(opts);
    await s.dev.dma({ op: 'read', iova: s.iova, length: 8 });
    const before = s.driver.qi.log.length;
    await s.unmap();
    const subs = s.driver.qi.log.slice(before);
    const types = subs.map((sub) => sub.map((d) => Number(d[0] & 0xfn)));
    const iotlb = opts.firstStage ? 0x6 : 0x2;
    expect(types).toEqual([opts.ats ? [iotlb, 0x3, 0x5] : [iotlb, 0x5]]);
  });
});

describe('intel-vtd uAPI details', () => {
  test('IOMMU_GET_HW_INFO returns iommu_hw_info_vtd with the unit cap/ecap', async () => {
    const s = await setup();
    const va = s.proc.mmap(4096);
    const out = await s.fd.ioctl('IOMMU_GET_HW_INFO', {
      dev_id: s.devid,
      data_len: iommu_hw_info_vtd.sizeof,
      data_uptr: va,
    });
    expect(out.out_data_type).toBe(IOMMU_HW_INFO_TYPE_INTEL_VTD);
    expect(out.data_len).toBe(24);
    const info = iommu_hw_info_vtd.decode(s.proc.read(va, 24));
    expect(info).toEqual({ flags: 1, __reserved: 0, cap_reg: s.hw.cap, ecap_reg: s.hw.ecap }); // ERRATA_772415_SPR17
    // Scalable mode, nesting, second-stage A/D, first stage, 20 PASID bits.
    expect((info.ecap_reg >> 43n) & 1n).toBe(1n);
    expect((info.ecap_reg >> 26n) & 1n).toBe(1n);
    expect((info.ecap_reg >> 45n) & 1n).toBe(1n);
    expect((info.ecap_reg >> 47n) & 1n).toBe(1n);
    expect((info.ecap_reg >> 35n) & 0x1fn).toBe(19n);
    expect(out.out_max_pasid_log2).toBe(20);
    // SSADS → dirty tracking capability; ATS off on this device → PCI_ATS_NOT_SUPPORTED.
    expect(out.out_capabilities).toBe(1n | 8n);
  });

  test('a device in a group owned by another ctx cannot be bound (EBUSY)', async () => {
    const s = await setup();
    const other = s.host.spawnProcess({ name: 'other' });
    const fd2 = other.openIommufd();
    const vdev2 = other.openVfioDevice('nic0');
    await expect(vdev2.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd2.fd })).rejects.toMatchObject({
      errno: 'EBUSY',
    });
  });

  test('the MSI window is reserved in the IOAS: a fixed map there fails', async () => {
    const s = await setup();
    const flags = IOMMU_IOAS_MAP_READABLE;
    const ioas = 1;
    await expect(
      s.fd.ioctl('IOMMU_IOAS_MAP', {
        flags: flags | 1,
        ioas_id: ioas,
        user_va: s.buf,
        length: 4096n,
        iova: 0xfee0_0000n,
      }),
    ).rejects.toMatchObject({ errno: 'EINVAL' });
  });
});
