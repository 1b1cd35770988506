import { describe, expect, test } from 'vitest';
import {
  createFarm,
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED,
  IOMMU_HW_INFO_TYPE_ARM_SMMUV3,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  iommu_hw_info_arm_smmuv3,
} from '../../index.ts';
import type { Smmuv3Driver, Smmuv3Hardware } from '../../vendors/arm-smmuv3/index.ts';

const LEN = 1n << 16n;
const TEXT = 'hello from the VMM over SMMUv3';
const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

async function setup(opts: { ats?: boolean; hwptFlags?: number } = {}) {
  const farm = createFarm({ seed: 3 });
  const host = farm.addHost({ name: 'h0' });
  const iommu = host.addIommu({ name: 'smmu0', vendor: 'arm-smmuv3' });
  const dev = host.addDevice({
    name: 'nic0',
    iommu: 'smmu0',
    bdf: '0000:01:00.0',
    ats: opts.ats ?? false,
    pasidBits: 20,
  });
  const proc = host.spawnProcess({ name: 'vmm' });
  const fd = proc.openIommufd();
  const { out_ioas_id } = await fd.ioctl('IOMMU_IOAS_ALLOC', {});
  const ioas = out_ioas_id as number;
  const vdev = proc.openVfioDevice('nic0');
  const { out_devid } = await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
  let pt = ioas;
  if (opts.hwptFlags !== undefined) {
    const h = await fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: out_devid, pt_id: ioas, flags: opts.hwptFlags });
    pt = h.out_hwpt_id as number;
  }
  await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: pt });
  const buf = proc.mmap(LEN, { align: 1n << 21n });
  proc.write(buf, new TextEncoder().encode(TEXT));
  const m = await fd.ioctl('IOMMU_IOAS_MAP', { flags: RW, ioas_id: ioas, user_va: buf, length: LEN });
  const iova = m.iova as bigint;
  const driver = iommu.driver as Smmuv3Driver;
  const hw = iommu.hw as Smmuv3Hardware;
  const unmap = () => fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioas, iova, length: LEN });
  return {
    farm,
    host,
    dev,
    proc,
    fd,
    vdev,
    ioas,
    pt,
    iova,
    driver,
    hw,
    unmap,
    devid: out_devid as number,
    buf,
  };
}

describe.each([{ ats: false }, { ats: true }])('arm-smmuv3 through the uAPI (ATS $ats)', (opts) => {
  test('map, DMA reads the process bytes, unmap, DMA faults with an SMMUv3 event record', async () => {
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
    if (r2.ok || r2.fault.vendor !== 'arm-smmuv3') throw new Error('expected an SMMUv3 fault');
    expect(r2.fault).toMatchObject({ reason: 'not-present', rid: 0x100, iova: s.iova });
    // An ATS Translation Request reports the fault in its completion, not in the EVTQ.
    expect(r2.fault.record).toMatchObject({
      event: 'F_TRANSLATION',
      id: 0x10,
      sid: 0x100,
      addr: s.iova,
      recorded: opts.ats ? 0 : 1,
    });
    await s.farm.scheduler.settle();
    const logged = s.driver.irqs.events.filter((e) => e.id === 0x10);
    expect(logged).toHaveLength(opts.ats ? 0 : 1);
    if (!opts.ats) expect(logged[0]).toMatchObject({ sid: 0x100, addr: s.iova, rnw: true, class: 2 });
  });

  test('the unmap is one [TLBI_NH_VA + CMD_SYNC] call (plus [ATC_INV + CMD_SYNC] with ATS)', async () => {
    const s = await setup(opts);
    await s.dev.dma({ op: 'read', iova: s.iova, length: 8 });
    const before = s.driver.cmdq.history.length;
    await s.unmap();
    const subs = s.driver.cmdq.history.slice(before).map((h) => h.ops.join('+'));
    expect(subs).toEqual(opts.ats ? ['TLBI_NH_VA+CMD_SYNC', 'ATC_INV+CMD_SYNC'] : ['TLBI_NH_VA+CMD_SYNC']);
  });
});

describe('arm-smmuv3 uAPI details', () => {
  test('IOMMU_GET_HW_INFO returns iommu_hw_info_arm_smmuv3 with the raw IDRs', async () => {
    const s = await setup();
    const va = s.proc.mmap(4096);
    const out = await s.fd.ioctl('IOMMU_GET_HW_INFO', {
      dev_id: s.devid,
      data_len: iommu_hw_info_arm_smmuv3.sizeof,
      data_uptr: va,
    });
    expect(out.out_data_type).toBe(IOMMU_HW_INFO_TYPE_ARM_SMMUV3);
    expect(out.data_len).toBe(40);
    const info = iommu_hw_info_arm_smmuv3.decode(s.proc.read(va, 40));
    expect(info.idr).toEqual(s.hw.idRegs.idr);
    expect([info.iidr, info.aidr]).toEqual([s.hw.idRegs.iidr, s.hw.idRegs.aidr]);
    // IDR0: 2-level stream table, S1+S2, ATS, PRI, HTTU dirty; IDR1: 16 SID bits, 20 SSID bits.
    expect((info.idr[0]! >>> 27) & 3).toBe(1);
    expect(info.idr[0]! & 3).toBe(3);
    expect((info.idr[0]! >>> 6) & 3).toBe(2);
    expect([info.idr[1]! & 0x3f, (info.idr[1]! >>> 6) & 0x1f]).toEqual([16, 20]);
    expect(out.out_max_pasid_log2).toBe(20);
    expect(out.out_capabilities).toBe(
      BigInt(IOMMU_HW_CAP_DIRTY_TRACKING | IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED),
    );
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

  test('the software MSI window (0x8000000, 1 MiB) is reserved in the IOAS', async () => {
    const s = await setup();
    const fixed = {
      flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FIXED_IOVA,
      ioas_id: s.ioas,
      user_va: s.buf,
      length: 4096n,
    };
    await expect(s.fd.ioctl('IOMMU_IOAS_MAP', { ...fixed, iova: 0x8000000n })).rejects.toMatchObject({
      errno: 'EINVAL',
    });
    await expect(s.fd.ioctl('IOMMU_IOAS_MAP', { ...fixed, iova: 0x8100000n })).resolves.toBeDefined();
  });

  test('fault injection: with farm.faults.skipIotlbInvalidation the DMA after IOAS_UNMAP reads the old page', async () => {
    for (const broken of [true, false]) {
      const s = await setup();
      expect((await s.dev.dma({ op: 'read', iova: s.iova, length: 5 })).ok).toBe(true);
      s.farm.faults.skipIotlbInvalidation = broken;
      await s.unmap();
      const r = await s.dev.dma({ op: 'read', iova: s.iova, length: 5 });
      if (broken) expect(r.ok && new TextDecoder().decode(r.data)).toBe(TEXT.slice(0, 5));
      else expect(r.ok).toBe(false);
    }
  });

  test('a NEST_PARENT hwpt is a stage-2 domain that translates the IOAS', async () => {
    const s = await setup({ hwptFlags: IOMMU_HWPT_ALLOC_NEST_PARENT });
    const r = await s.dev.dma({ op: 'read', iova: s.iova, length: TEXT.length });
    expect(r.ok && new TextDecoder().decode(r.data)).toBe(TEXT);
    const before = s.driver.cmdq.history.length;
    await s.unmap();
    expect(s.driver.cmdq.history.slice(before).map((h) => h.ops.join('+'))).toEqual([
      'TLBI_S2_IPA+CMD_SYNC',
      'TLBI_NH_ALL+CMD_SYNC',
    ]);
  });

  test('dirty tracking (HTTU): a DMA write shows up in IOMMU_HWPT_GET_DIRTY_BITMAP', async () => {
    const s = await setup({ hwptFlags: IOMMU_HWPT_ALLOC_DIRTY_TRACKING });
    await s.fd.ioctl('IOMMU_HWPT_SET_DIRTY_TRACKING', {
      hwpt_id: s.pt,
      flags: IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
    });
    await s.dev.dma({ op: 'write', iova: s.iova + 0x3000n, length: 16 });
    await s.dev.dma({ op: 'read', iova: s.iova + 0x5000n, length: 16 });
    const bitmap = s.proc.mmap(4096);
    await s.fd.ioctl('IOMMU_HWPT_GET_DIRTY_BITMAP', {
      hwpt_id: s.pt,
      iova: s.iova,
      length: LEN,
      page_size: 4096n,
      data: bitmap,
      flags: 0,
    });
    const bits = s.proc.read(bitmap, 2);
    expect([...bits]).toEqual([0b0000_1000, 0]);
  });
});
