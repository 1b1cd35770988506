/** fail-nth over the VFIO type1 compat path: IOMMU_VFIO_IOAS, SET_IOMMU, MAP_DMA, UNMAP_DMA. */
import { describe, expect, test } from 'vitest';
import {
  IOMMU_VFIO_IOAS_SET,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
} from '../../index.ts';
import { BUF_LEN, bind, failNthScenario, PAGE, VENDORS } from './harness.ts';

const IOVA = 0x100_0000n;

describe.each(VENDORS)('fail-nth VFIO compat on %s', (vendor) => {
  test('set IOAS, set IOMMU, map DMA, unmap DMA', async () => {
    const tally = await failNthScenario(vendor, async (w, step) => {
      const { out_ioas_id } = await step('IOAS_ALLOC', () => w.fd.ioctl('IOMMU_IOAS_ALLOC', {}));
      const ioas = out_ioas_id as number;
      await bind(w, step, 0);
      await step('attach', () => w.vfios[0]!.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: ioas }));
      await step('VFIO_IOAS set', () =>
        w.fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_SET, ioas_id: ioas }),
      );
      await step('VFIO_SET_IOMMU', () => w.fd.ioctlRaw(VFIO_SET_IOMMU, BigInt(VFIO_TYPE1v2_IOMMU)));
      w.probes.push({ dev: w.devs[0]!, iova: IOVA }, { dev: w.devs[0]!, iova: IOVA + 5n * PAGE });
      w.iovas.push(IOVA, IOVA + 5n * PAGE);
      const mapVa = w.proc.mmap(PAGE);
      w.proc.write(
        mapVa,
        vfio_iommu_type1_dma_map.encode({
          argsz: vfio_iommu_type1_dma_map.sizeof,
          flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
          vaddr: w.buf,
          iova: IOVA,
          size: BUF_LEN,
        }),
      );
      await step('VFIO_IOMMU_MAP_DMA', () => w.fd.ioctlRaw(VFIO_IOMMU_MAP_DMA, mapVa));
      const unmapVa = w.proc.mmap(PAGE);
      const unmap = vfio_iommu_type1_dma_unmap;
      await step('VFIO_IOMMU_UNMAP_DMA', () => {
        // The kernel writes the unmapped size back into the struct: start each run afresh.
        w.proc.write(unmapVa, unmap.encode({ argsz: unmap.sizeof, flags: 0, iova: IOVA, size: BUF_LEN }));
        return w.fd.ioctlRaw(VFIO_IOMMU_UNMAP_DMA, unmapVa);
      });
    });
    expect(tally.usercopy + tally.pin + tally.alloc).toBeGreaterThan(5);
  });
});
