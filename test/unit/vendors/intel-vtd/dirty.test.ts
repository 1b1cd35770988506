import { describe, expect, test } from 'vitest';
import { IOMMU_HWPT_ALLOC_DIRTY_TRACKING } from '../../../../actors/iommufd/uapi-iommufd.ts';
import { PGTT_SL_ONLY } from '../../../../vendors/intel-vtd/entries.ts';
import type { VtdPagingDomain } from '../../../../vendors/intel-vtd/paging-domain.ts';
import { SS_D } from '../../../../vendors/intel-vtd/pte.ts';
import { attachedDomain, RW, vtdFarm } from './helpers.ts';

async function dirtyEnv(ats = false) {
  // An ATS device's Translation Requests ask for write access too, which sets D on reads.
  const env = vtdFarm({ ats });
  const { domain, iova } = await attachedDomain(env, { flags: IOMMU_HWPT_ALLOC_DIRTY_TRACKING, pages: 4 });
  const write = (i: bigint) => env.dev.dma({ op: 'write', iova: iova + i * 4096n, length: 8 });
  const harvest = async (noClear = false) => {
    const out: Array<[bigint, bigint]> = [];
    await domain.dirty!.readAndClear(iova, 4n * 4096n, noClear, (a, s) => out.push([a - iova, s]));
    return out;
  };
  return { env, domain, iova, write, harvest };
}

describe('dirty tracking with second-stage A/D (ECAP.SSADS)', () => {
  test('a dirty-tracking domain is second stage; enabling sets SSADE with pc + DSI + dev-TLB flushes', async () => {
    const { env, domain } = await dirtyEnv(true);
    expect(domain.useFirstLevel).toBe(false);
    expect(env.driver.probe(env.dev.ref).readEntry(0)).toMatchObject({ pgtt: PGTT_SL_ONLY, ssade: false });
    const n = env.driver.qi.log.length;
    await domain.dirty!.setTracking(true);
    expect(env.driver.probe(env.dev.ref).readEntry(0)!.ssade).toBe(true);
    expect(env.driver.qi.log.slice(n).map((s) => s.map((d) => Number(d[0] & 0xfn)))).toEqual([
      [7, 5],
      [2, 5],
      [3, 5],
    ]);
  });

  test('device writes set D; read-and-clear reports and clears them, and the next write sets D again', async () => {
    const { env, domain, iova, write, harvest } = await dirtyEnv();
    await write(0n);
    expect(await harvest()).toEqual([]); // tracking off: the walk sets no D
    await domain.dirty!.setTracking(true);
    await env.dev.dma({ op: 'read', iova, length: 4 }); // a read sets A, not D
    await write(1n);
    await write(3n);
    expect(await harvest(true)).toEqual([
      [0x1000n, 0x1000n],
      [0x3000n, 0x1000n],
    ]);
    expect(await harvest()).toHaveLength(2);
    expect(await harvest()).toEqual([]);
    await write(1n);
    expect(await harvest()).toEqual([[0x1000n, 0x1000n]]);
  });

  test('skipping the IOTLB flush after clearing loses the next dirty bit (the cached entry is already dirty)', async () => {
    const { env, domain, write, harvest } = await dirtyEnv();
    await domain.dirty!.setTracking(true);
    await write(2n);
    env.driver.faults.skipIotlbInvalidation = true;
    expect(await harvest()).toEqual([[0x2000n, 0x1000n]]);
    await write(2n);
    expect(await harvest()).toEqual([]);
    env.driver.faults.skipIotlbInvalidation = false;
  });

  test('a dirty 2 MiB leaf is reported whole', async () => {
    const env = vtdFarm();
    const domain = env.driver.domainAllocPaging(
      env.dev.ref,
      IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
      undefined,
    ) as VtdPagingDomain;
    await domain.attachDev(env.dev.ref, undefined, undefined);
    await domain.dirty!.setTracking(true);
    const pa = env.phys.allocContiguous(512, 512) << 12n;
    domain.map(0x20_0000n, pa, 0x20_0000n, RW);
    await env.dev.dma({ op: 'write', iova: 0x21_0000n, length: 4 });
    expect(domain.pt.lookup(0x20_0000n)!.pte & SS_D).toBe(SS_D);
    const out: Array<[bigint, bigint]> = [];
    await domain.dirty!.readAndClear(0x20_0000n, 0x20_0000n, false, (a, s) => out.push([a, s]));
    expect(out).toEqual([[0x20_0000n, 0x20_0000n]]);
  });
});
