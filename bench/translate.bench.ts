/**
 * Translations through each vendor's hardware: a warm IOTLB hit, and a miss that walks the
 * tables in simulated memory, against a plain Map lookup in the same process. `hw.translate`
 * is what every DMA page goes through (the data plane: no machine event).
 */
import {
  availableVendors,
  createFarm,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  type VendorName,
} from '../index.ts';
import type { BenchCase, BenchSuite } from './harness.ts';

const PAGES = 1 << 14;
const LENGTH = BigInt(PAGES) * 4096n;

async function mappedDevice(vendor: VendorName) {
  const farm = createFarm({ seed: 1 });
  const host = farm.addHost({ name: 'h0' });
  // A small IOTLB where the vendor lets us size it, so sweeping the mapping misses.
  const small =
    vendor === 'arm-smmuv3' ? { iotlbCapacity: 256 } : vendor === 'mock' ? {} : { iotlbEntries: 256 };
  const iommu = host.addIommu({ name: 'iommu0', vendor, ...small });
  const dev = host.addDevice({ name: 'nic0', iommu: 'iommu0', bdf: '0000:01:00.0' });
  const proc = host.spawnProcess({ name: 'bench' });
  const fd = proc.openIommufd();
  const { out_ioas_id } = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})) as { out_ioas_id: number };
  const vdev = proc.openVfioDevice('nic0');
  await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
  await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: out_ioas_id });
  // Not 2 MiB aligned, so the walk goes down to 4 KiB leaves.
  const buf = proc.mmap(LENGTH + 4096n, { align: 4096n }) + 4096n;
  const { iova } = (await fd.ioctl('IOMMU_IOAS_MAP', {
    flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
    ioas_id: out_ioas_id,
    user_va: buf,
    length: LENGTH,
  })) as { iova: bigint };
  await dev.dma({ op: 'read', iova, length: 8 });
  return { hw: iommu.hw, rid: dev.ref.rid, iova };
}

let sink = 0;

export const translate: BenchSuite = {
  name: 'translate',
  title: 'Translations (IommuHardware.translate)',
  async prepare() {
    const table = new Map<number, number>();
    for (let i = 0; i < 4096; i++) table.set(i * 4096, i);
    let k = 0;
    const hitBatch = 10_000;
    const baseline: BenchCase = {
      name: 'baseline: Map.get',
      fn: () => {
        for (let j = 0; j < hitBatch; j++) sink += table.get((k++ & 4095) * 4096) ?? 0;
      },
      batch: hitBatch,
    };
    const cases: BenchCase[] = [];
    for (const vendor of availableVendors()) {
      const { hw, rid, iova } = await mappedDevice(vendor);
      const warm = { rid, pasid: undefined, iova, write: false };
      cases.push({
        name: `${vendor}: warm IOTLB hit`,
        fn: () => {
          for (let j = 0; j < hitBatch; j++) hw.translate(warm);
        },
        batch: hitBatch,
      });
      let page = 0;
      const missBatch = 500;
      cases.push({
        name: `${vendor}: miss (walk), ${PAGES} pages swept`,
        fn: () => {
          for (let j = 0; j < missBatch; j++)
            hw.translate({
              rid,
              pasid: undefined,
              iova: iova + BigInt((page++ % PAGES) * 4096),
              write: false,
            });
        },
        batch: missBatch,
      });
    }
    return { baseline, cases };
  },
  summarize() {
    return sink < 0 ? [String(sink)] : [];
  },
};
