/**
 * Commands per second through each vendor's command queue: IOAS_UNMAP of one page makes the
 * driver queue its invalidation sequence and barrier; the queue's machine counts what its
 * consumer processed. Compared with a plain array push/shift of one command.
 */

import { performance } from 'node:perf_hooks';
import {
  availableVendors,
  createFarm,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  type VendorName,
} from '../index.ts';
import { measure, report } from './harness.ts';

async function queueOf(vendor: VendorName) {
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
  const cycle = async () => {
    await fd.ioctl('IOMMU_IOAS_MAP', {
      flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_FIXED_IOVA,
      ioas_id: ioas,
      user_va: buf,
      length: 4096n,
      iova,
    });
    await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioas, iova, length: 4096n });
  };
  return { cycle, consumed, queue: queue?.id };
}

export async function benchCmdq(): Promise<void> {
  const ring: number[] = [];
  let i = 0;
  const baseline = await measure(
    'baseline: array push + shift',
    () => {
      ring.push(i++);
      ring.shift();
    },
    { batch: 10_000 },
  );
  const rows = [];
  for (const vendor of availableVendors()) {
    if (vendor === 'mock') continue;
    const { cycle, consumed, queue } = await queueOf(vendor);
    for (let w = 0; w < 50; w++) await cycle();
    const before = consumed();
    const start = performance.now();
    let cycles = 0;
    while (performance.now() - start < 1500) {
      await cycle();
      cycles++;
    }
    const ms = performance.now() - start;
    const commands = consumed() - before;
    const opsPerSec = (commands / ms) * 1000;
    rows.push({
      name: `${vendor} (${queue}): ${(commands / cycles).toFixed(1)} cmds/unmap`,
      opsPerSec,
      nsPerOp: 1e9 / opsPerSec,
    });
  }
  report(
    'Commands through each vendor queue (map + unmap of one page, wall time incl. ioctls)',
    baseline,
    rows,
  );
}
