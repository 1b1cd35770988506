/**
 * IOAS_MAP + IOAS_UNMAP with 1k and 1M live areas: the area tree must keep the cost
 * logarithmic. The live areas are placed through the engine directly (building 1M by ioctl
 * would only measure the build); the measured operations go through the full ioctl path.
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
import type { BenchCase, BenchSuite } from './harness.ts';

const PAGE = 4096n;
const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

async function withLiveAreas(count: number): Promise<BenchCase> {
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
  const fn = async () => {
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
  return { name: `IOAS_MAP+UNMAP, ${count.toLocaleString('en-US')} live areas`, fn };
}

export const ioasMap: BenchSuite = {
  name: 'ioas-map',
  title: 'IOAS_MAP + IOAS_UNMAP (typed ioctls, FIXED_IOVA, no domain)',
  async prepare({ quick }) {
    const m = new Map<number, number>();
    let i = 0;
    const batch = 1000;
    const baseline: BenchCase = {
      name: 'baseline: Map.set + Map.delete',
      fn: () => {
        for (let j = 0; j < batch; j++) {
          m.set(i, i);
          m.delete(i++);
        }
      },
      batch,
    };
    const sizes = (process.env.BENCH_SIZES ?? (quick ? '1000,100000' : '1000,1000000'))
      .split(',')
      .map(Number);
    const cases: BenchCase[] = [];
    for (const count of sizes) cases.push(await withLiveAreas(count));
    return { baseline, cases };
  },
  summarize(rows) {
    const [, small, large] = rows;
    return small && large
      ? [`${small.case} → ${large.case}: ${(large.nsPerOp / small.nsPerOp).toFixed(2)}× the cost`]
      : [];
  },
};
