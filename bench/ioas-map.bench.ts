/**
 * IOAS_MAP + IOAS_UNMAP per second with 1k and 1M live areas: the area tree must keep the
 * cost logarithmic. The live areas are placed through the engine directly (building 1M by
 * ioctl would only measure the build); the measured operations go through the full ioctl path.
 */

import type { Ioas } from '../actors/iommufd/ioas.ts';
import { ioptMapPages } from '../actors/iommufd/iopt-map.ts';
import { IoptPages } from '../actors/iommufd/pages.ts';
import {
  createFarm,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
} from '../index.ts';
import { measure, report } from './harness.ts';

const PAGE = 4096n;
const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

async function liveAreas(count: number) {
  const farm = createFarm({ seed: 1 });
  const host = farm.addHost({ name: 'h0', selftest: true });
  const proc = host.spawnProcess({ name: 'bench' });
  const fd = proc.openIommufd();
  const { out_ioas_id } = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})) as { out_ioas_id: number };
  const buf = proc.mmap(PAGE);
  const ioas = fd.ctx.objects.get<Ioas>(out_ioas_id, 'IOAS');
  // Live areas every other page from 1 GiB up; the measured map/unmap works in the holes.
  const base = 1n << 30n;
  for (let i = 0; i < count; i++) {
    const pages = new IoptPages({ kind: 'user', mm: proc.mm, base: buf }, PAGE, true, fd.ctx.pinAccount());
    await ioptMapPages(ioas.iopt, [{ pages, startByte: 0n, length: PAGE }], 3, base + BigInt(i) * 2n * PAGE);
  }
  let k = 0;
  const op = async () => {
    const iova = base + BigInt(k++ % count) * 2n * PAGE + PAGE;
    await fd.ioctl('IOMMU_IOAS_MAP', {
      flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA,
      ioas_id: out_ioas_id,
      user_va: buf,
      length: PAGE,
      iova,
    });
    await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: out_ioas_id, iova, length: PAGE });
  };
  return op;
}

export async function benchIoasMap(): Promise<void> {
  const m = new Map<number, number>();
  let i = 0;
  const baseline = await measure(
    'baseline: Map.set + Map.delete',
    () => {
      m.set(i, i);
      m.delete(i++);
    },
    { batch: 1000 },
  );
  const rows = [];
  for (const count of (process.env.BENCH_SIZES ?? '1000,1000000').split(',').map(Number)) {
    const op = await liveAreas(count);
    rows.push(
      await measure(`IOAS_MAP+UNMAP, ${count.toLocaleString('en-US')} live areas`, op, { minMs: 2000 }),
    );
  }
  report('IOAS_MAP + IOAS_UNMAP (typed ioctls, FIXED_IOVA, no domain)', baseline, rows);
  const [small, large] = rows;
  if (small && large)
    console.log(
      `  1k → 1M live areas: ${(small.opsPerSec / large.opsPerSec).toFixed(2)}× slower (log2 ratio of sizes: ${(Math.log2(1e6) / Math.log2(1e3)).toFixed(1)})`,
    );
}
