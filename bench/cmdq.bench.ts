/**
 * Commands through each vendor's command queue: IOAS_UNMAP of one page makes the driver queue
 * its invalidation sequence and barrier; the queue's machine counts what its consumer
 * processed. The cost per command is compared with a plain array push/shift of one command.
 */

import {
  availableVendors,
  createFarm,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  type VendorName,
} from '../index.ts';
import type { BenchCase, BenchSuite } from './harness.ts';

async function mapUnmapCase(vendor: VendorName): Promise<BenchCase> {
  const farm = createFarm({ seed: 1 });
  const host = farm.addHost({ name: 'h0' });
  host.addIommu({ name: 'iommu0', vendor });
  host.addDevice({ name: 'nic0', iommu: 'iommu0', bdf: '0000:01:00.0' });
  const proc = host.spawnProcess({ name: 'bench' });
  const fd = proc.openIommufd();
  const { out_ioas_id: ioas } = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})) as { out_ioas_id: number };
  const vdev = proc.openVfioDevice('nic0');
  await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
  await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: ioas });
  const buf = proc.mmap(4096n);
  const queue = farm.actors().find((a) => a.id.startsWith('h0/iommu0/'));
  const consumed = () => {
    const ref = queue ? farm.root.system.get(queue.id) : undefined;
    return (ref?.getSnapshot() as { context?: { consumed?: number } } | undefined)?.context?.consumed ?? 0;
  };
  const iova = 1n << 24n;
  let cycles = 0;
  const before = consumed();
  return {
    name: `${vendor}: map + unmap of one page, per command`,
    fn: async () => {
      cycles++;
      await fd.ioctl('IOMMU_IOAS_MAP', {
        flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_FIXED_IOVA,
        ioas_id: ioas,
        user_va: buf,
        length: 4096n,
        iova,
      });
      await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioas, iova, length: 4096n });
    },
    opsPerCall: () => (consumed() - before) / Math.max(1, cycles),
    note: () => `${((consumed() - before) / Math.max(1, cycles)).toFixed(1)} cmds/unmap on ${queue?.id}`,
  };
}

export const cmdq: BenchSuite = {
  name: 'cmdq',
  title: 'Commands through each vendor queue (map + unmap of one page, wall time incl. ioctls)',
  async prepare() {
    const ring: number[] = [];
    let i = 0;
    const batch = 10_000;
    const baseline: BenchCase = {
      name: 'baseline: array push + shift',
      fn: () => {
        for (let j = 0; j < batch; j++) {
          ring.push(i++);
          ring.shift();
        }
      },
      batch,
    };
    const cases: BenchCase[] = [];
    for (const vendor of availableVendors()) if (vendor !== 'mock') cases.push(await mapUnmapCase(vendor));
    return { baseline, cases };
  },
};
