/**
 * fail-nth over nested HWPTs, vIOMMU and vDEVICE allocation and user cache invalidation
 * (the kernel's hwpt_nested / viommu fail-nth cases), on the vendors that nest: the mock and
 * VT-d (SMMUv3 and AMD-Vi take no nested domain here).
 */
import { describe, expect, test } from 'vitest';
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_DATA_VTD_S1,
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
  IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  IOMMU_TEST_IOTLB_DEFAULT,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  iommu_hwpt_invalidate_selftest,
  iommu_hwpt_selftest,
  iommu_hwpt_vtd_s1,
  iommu_hwpt_vtd_s1_invalidate,
  iommu_viommu_selftest,
  MOCK_APERTURE_START,
} from '../../index.ts';
import { BUF_LEN, bind, type FailWorld, failNthScenario, PAGE, type Step } from './harness.ts';

const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
const VTD_GPA = 0x1_0000_0000n;

/** Copies bytes into fresh process memory, as a C caller's struct would be. */
function place(w: FailWorld, bytes: Uint8Array): bigint {
  const va = w.proc.mmap(PAGE);
  w.proc.write(va, bytes);
  return va;
}

/** An IOAS with the buffer at GPA, both devices bound, a nest-parent HWPT on it. */
async function parentOf(w: FailWorld, step: Step, GPA: bigint) {
  const { out_ioas_id } = await step('IOAS_ALLOC', () => w.fd.ioctl('IOMMU_IOAS_ALLOC', {}));
  const ioas = out_ioas_id as number;
  await step('IOAS_MAP', () =>
    w.fd.ioctl('IOMMU_IOAS_MAP', {
      flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA,
      ioas_id: ioas,
      user_va: w.buf,
      length: BUF_LEN,
      iova: GPA,
    }),
  );
  for (const dev of w.devs) w.probes.push({ dev, iova: GPA }, { dev, iova: GPA + 2n * PAGE });
  w.iovas.push(GPA, GPA + 2n * PAGE);
  const dev0 = await bind(w, step, 0);
  const dev1 = await bind(w, step, 1);
  const { out_hwpt_id } = await step('HWPT_ALLOC nest parent', () =>
    w.fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: dev0, pt_id: ioas, flags: IOMMU_HWPT_ALLOC_NEST_PARENT }),
  );
  return { ioas, dev0, dev1, parent: out_hwpt_id as number };
}

describe('fail-nth nested HWPT and vIOMMU on mock', () => {
  test('nested alloc, attach, vIOMMU, vDEVICE, nested via vIOMMU, invalidate', async () => {
    const tally = await failNthScenario('mock', async (w, step) => {
      const { dev0, dev1, parent } = await parentOf(w, step, BigInt(MOCK_APERTURE_START));
      const data = iommu_hwpt_selftest.encode({ iotlb: IOMMU_TEST_IOTLB_DEFAULT });
      const dataVa = place(w, data);
      const nestedAlloc = (label: string, pt: number, dev: number) =>
        step(label, async () => {
          const out = await w.fd.ioctl('IOMMU_HWPT_ALLOC', {
            dev_id: dev,
            pt_id: pt,
            data_type: IOMMU_HWPT_DATA_SELFTEST,
            data_len: data.length,
            data_uptr: dataVa,
          });
          return out.out_hwpt_id as number;
        });
      const nested = await nestedAlloc('HWPT_ALLOC nested', parent, dev0);
      await step('attach nested', () =>
        w.vfios[0]!.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: nested }),
      );
      const inv = iommu_hwpt_invalidate_selftest.encode({
        flags: IOMMU_TEST_INVALIDATE_FLAG_ALL,
        iotlb_id: 0,
      });
      const invVa = place(w, inv);
      await step('HWPT_INVALIDATE nested', () =>
        w.fd.ioctl('IOMMU_HWPT_INVALIDATE', {
          hwpt_id: nested,
          data_uptr: invVa,
          data_type: IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
          entry_len: inv.length,
          entry_num: 1,
        }),
      );
      const vdata = iommu_viommu_selftest.encode({ in_data: 0xbeef });
      const vdataVa = place(w, vdata);
      const { out_viommu_id } = await step('VIOMMU_ALLOC', () =>
        w.fd.ioctl('IOMMU_VIOMMU_ALLOC', {
          dev_id: dev1,
          hwpt_id: parent,
          type: IOMMU_VIOMMU_TYPE_SELFTEST,
          data_uptr: vdataVa,
          data_len: vdata.length,
        }),
      );
      const viommu = out_viommu_id as number;
      await step('VDEVICE_ALLOC', () =>
        w.fd.ioctl('IOMMU_VDEVICE_ALLOC', { viommu_id: viommu, dev_id: dev1, virt_id: 0x99n }),
      );
      const viaViommu = await nestedAlloc('HWPT_ALLOC nested via vIOMMU', viommu, dev1);
      await step('attach nested via vIOMMU', () =>
        w.vfios[1]!.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: viaViommu }),
      );
    });
    expect(tally.alloc).toBeGreaterThan(5);
    expect(tally.usercopy).toBeGreaterThan(5);
  });
});

describe('fail-nth nested HWPT on intel-vtd', () => {
  test('nest parent, first-stage nested alloc, attach, invalidate', async () => {
    const tally = await failNthScenario('intel-vtd', async (w, step) => {
      const { dev0, parent } = await parentOf(w, step, VTD_GPA);
      const s1 = iommu_hwpt_vtd_s1.encode({ flags: 0n, pgtbl_addr: VTD_GPA, addr_width: 48 });
      const s1Va = place(w, s1);
      const { out_hwpt_id } = await step('HWPT_ALLOC nested', () =>
        w.fd.ioctl('IOMMU_HWPT_ALLOC', {
          dev_id: dev0,
          pt_id: parent,
          data_type: IOMMU_HWPT_DATA_VTD_S1,
          data_len: s1.length,
          data_uptr: s1Va,
        }),
      );
      const nested = out_hwpt_id as number;
      await step('attach nested', () =>
        w.vfios[0]!.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: nested }),
      );
      await step('attach dev1 parent', () =>
        w.vfios[1]!.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: parent }),
      );
      const inv = iommu_hwpt_vtd_s1_invalidate.encode({ addr: 0n, npages: 16n });
      const invVa = place(w, inv);
      await step('HWPT_INVALIDATE nested', () =>
        w.fd.ioctl('IOMMU_HWPT_INVALIDATE', {
          hwpt_id: nested,
          data_uptr: invVa,
          data_type: IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
          entry_len: inv.length,
          entry_num: 1,
        }),
      );
    });
    expect(tally.driver + tally.table).toBeGreaterThan(3);
  });
});
