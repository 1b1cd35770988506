/**
 * fail-nth over device bind, HWPT_PAGING alloc, attach (direct and auto-domain), replace,
 * PASID attach and detach, with DMA probes on both devices (the kernel's
 * basic_fail_nth / device / pasid variants).
 */
import { describe, expect, test } from 'vitest';
import {
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  VFIO_DEVICE_ATTACH_PASID,
} from '../../index.ts';
import { BUF_LEN, bind, type FailWorld, failNthScenario, PAGE, type Step, VENDORS } from './harness.ts';

const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
const IOVA = 0x4000_0000n;
const PASID = 5;

async function ioasWithMap(w: FailWorld, step: Step, label: string, iova: bigint): Promise<number> {
  const { out_ioas_id } = await step(`${label} IOAS_ALLOC`, () => w.fd.ioctl('IOMMU_IOAS_ALLOC', {}));
  const ioas = out_ioas_id as number;
  await step(`${label} IOAS_MAP`, () =>
    w.fd.ioctl('IOMMU_IOAS_MAP', {
      flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA,
      ioas_id: ioas,
      user_va: w.buf,
      length: BUF_LEN,
      iova,
    }),
  );
  return ioas;
}

describe.each(VENDORS)('fail-nth devices and HWPTs on %s', (vendor) => {
  test('bind, hwpt alloc, attach, auto-domain attach, replace, detach', async () => {
    const tally = await failNthScenario(vendor, async (w, step) => {
      const ioas1 = await ioasWithMap(w, step, 'ioas1', IOVA);
      // The second IOAS maps the buffer one page further, so a DMA tells which one a device uses.
      const ioas2 = await ioasWithMap(w, step, 'ioas2', IOVA - PAGE);
      for (const dev of w.devs) for (const off of [0n, 3n * PAGE]) w.probes.push({ dev, iova: IOVA + off });
      w.iovas.push(IOVA, IOVA + 3n * PAGE, IOVA - PAGE);
      const dev0 = await bind(w, step, 0);
      await bind(w, step, 1);
      const [v0, v1] = w.vfios as [(typeof w.vfios)[0], (typeof w.vfios)[0]];
      const { out_hwpt_id } = await step('HWPT_ALLOC paging', () =>
        w.fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: dev0, pt_id: ioas1 }),
      );
      const hwpt = out_hwpt_id as number;
      await step('attach dev0 hwpt', () => v0.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: hwpt }));
      await step('attach dev1 ioas1', () => v1.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: ioas1 }));
      await step('replace dev0 ioas2', () => v0.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: ioas2 }));
      await step('replace dev0 hwpt', () => v0.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: hwpt }));
      await step('detach dev1', () => v1.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {}));
      await step('detach dev0', () => v0.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {}));
      await step('HWPT destroy', () => w.fd.ioctl('IOMMU_DESTROY', { id: hwpt }));
    });
    expect(tally.alloc).toBeGreaterThan(5);
    expect(tally.driver).toBeGreaterThan(3);
  });

  test('PASID: a PASID-capable HWPT attached to a PASID, replaced, detached', async () => {
    const tally = await failNthScenario(
      vendor,
      async (w, step) => {
        const ioas = await ioasWithMap(w, step, 'ioas', IOVA);
        const dev = w.devs[0]!;
        for (const iova of [IOVA, IOVA + 3n * PAGE]) {
          w.probes.push({ dev, iova }, { dev, iova, pasid: PASID });
          w.iovas.push(iova);
        }
        const devId = await bind(w, step, 0);
        const v0 = w.vfios[0]!;
        const alloc = (label: string) =>
          step(label, () =>
            w.fd.ioctl('IOMMU_HWPT_ALLOC', { flags: IOMMU_HWPT_ALLOC_PASID, dev_id: devId, pt_id: ioas }),
          );
        const a = (await alloc('HWPT_ALLOC pasid a')).out_hwpt_id as number;
        const b = (await alloc('HWPT_ALLOC pasid b')).out_hwpt_id as number;
        await step('attach rid', () => v0.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: a }));
        const pasidAttach = (label: string, pt: number) =>
          step(label, () =>
            v0.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', {
              flags: VFIO_DEVICE_ATTACH_PASID,
              pasid: PASID,
              pt_id: pt,
            }),
          );
        await pasidAttach('attach pasid', a);
        await pasidAttach('replace pasid', b);
        await step('detach pasid', () =>
          v0.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', { flags: VFIO_DEVICE_ATTACH_PASID, pasid: PASID }),
        );
      },
      { pasidBits: 8 },
    );
    expect(tally.alloc + tally.driver).toBeGreaterThan(3);
  });
});
