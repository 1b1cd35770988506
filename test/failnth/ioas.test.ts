/** fail-nth over IOAS alloc/map/copy/unmap with a device attached (basic, basic_fail_nth). */
import { describe, expect, test } from 'vitest';
import { IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE } from '../../index.ts';
import { BUF_LEN, bind, failNthScenario, PAGE, VENDORS } from './harness.ts';

const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
const FIXED = 0x4000_0000n;

describe.each(VENDORS)('fail-nth IOAS on %s', (vendor) => {
  test('alloc, attach, map, map fixed, copy, iova ranges, unmap', async () => {
    const tally = await failNthScenario(vendor, async (w, step) => {
      const { out_ioas_id: ioas } = await step('IOAS_ALLOC', () => w.fd.ioctl('IOMMU_IOAS_ALLOC', {}));
      await bind(w, step, 0);
      const vdev = w.vfios[0]!;
      await step('attach', () => vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: ioas as number }));
      const dev = w.devs[0]!;
      w.iovas.push(FIXED, FIXED + 5n * PAGE, FIXED + 0x10_0000n, FIXED + 0x10_0000n + 7n * PAGE);
      for (const iova of w.iovas) w.probes.push({ dev, iova });
      const { iova } = await step('IOAS_MAP', () =>
        w.fd.ioctl('IOMMU_IOAS_MAP', { flags: RW, ioas_id: ioas as number, user_va: w.buf, length: BUF_LEN }),
      );
      w.probes.push({ dev, iova: iova as bigint }, { dev, iova: (iova as bigint) + 9n * PAGE });
      w.iovas.push(iova as bigint);
      await step('IOAS_MAP fixed', () =>
        w.fd.ioctl('IOMMU_IOAS_MAP', {
          flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA,
          ioas_id: ioas as number,
          user_va: w.buf,
          length: BUF_LEN,
          iova: FIXED,
        }),
      );
      await step('IOAS_COPY', () =>
        w.fd.ioctl('IOMMU_IOAS_COPY', {
          flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA,
          dst_ioas_id: ioas as number,
          src_ioas_id: ioas as number,
          dst_iova: FIXED + 0x10_0000n,
          src_iova: FIXED,
          length: BUF_LEN,
        }),
      );
      await step('IOAS_IOVA_RANGES', () =>
        w.fd.ioctl('IOMMU_IOAS_IOVA_RANGES', { ioas_id: ioas as number, num_iovas: 8 }),
      );
      await step('IOAS_UNMAP', () =>
        w.fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioas as number, iova: FIXED, length: BUF_LEN }),
      );
    });
    expect(tally.alloc + tally.usercopy + tally.pin + tally.driver).toBeGreaterThan(10);
  });
});
