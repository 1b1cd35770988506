import { describe, expect, test } from 'vitest';
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_VTD_S1,
  IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
} from '../../../../actors/iommufd/uapi-iommufd.ts';
import {
  iommu_hwpt_vtd_s1,
  iommu_hwpt_vtd_s1_invalidate,
} from '../../../../actors/iommufd/uapi-structs-vendor.ts';
import type { UserDataArray } from '../../../../vendors/driver.ts';
import { PGTT_NESTED } from '../../../../vendors/intel-vtd/entries.ts';
import type { VtdNestedDomain } from '../../../../vendors/intel-vtd/nested-domain.ts';
import type { VtdPagingDomain } from '../../../../vendors/intel-vtd/paging-domain.ts';
import { FS_A, FS_D, FS_P, FS_RW, FS_US, levelIndex } from '../../../../vendors/intel-vtd/pte.ts';
import { dataPage, RW, read, vtdFarm, vtdRecord } from './helpers.ts';

const GPA = 0x1000_0000n;
const GVA = 0x40_0000n;
const gpa = (i: number) => GPA + BigInt(i) * 4096n;
const U64_MAX = (1n << 64n) - 1n;

const userData = (type: number, bytes: Uint8Array) => ({ type, len: bytes.length, read: () => bytes });
const invArray = (
  entries: Array<Partial<{ addr: bigint; npages: bigint; flags: number; __reserved: number }>>,
  type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
): UserDataArray => ({
  type,
  entryLen: iommu_hwpt_vtd_s1_invalidate.sizeof,
  entryNum: entries.length,
  entry: (i) => iommu_hwpt_vtd_s1_invalidate.encode(entries[i]!),
});

/**
 * A guest: a nest-parent S2 mapping GPA 0x1000_0000.. onto host pages, a 4-level first-stage
 * table living in that guest memory (pointers are GPAs), and a nested domain on top.
 */
async function guest(o: { ats?: boolean } = {}) {
  const env = vtdFarm({ ats: o.ats ?? false });
  const parent = env.driver.domainAllocPaging(
    env.dev.ref,
    IOMMU_HWPT_ALLOC_NEST_PARENT,
    undefined,
  ) as VtdPagingDomain;
  const hpa = [0, 1, 2, 3].map(() => dataPage(env.phys, 0));
  hpa.push(dataPage(env.phys, 0xd1), dataPage(env.phys, 0xd2));
  for (const [i, h] of hpa.entries()) parent.map(gpa(i), h, 4096n, RW);
  const flags = FS_P | FS_RW | FS_US | FS_A;
  for (let level = 4; level >= 2; level--) {
    env.phys.writeU64(hpa[4 - level]! + BigInt(levelIndex(GVA, level) * 8), gpa(5 - level) | flags);
  }
  const leafAt = hpa[3]! + BigInt(levelIndex(GVA, 1) * 8);
  const setLeaf = (dataIndex: number) => env.phys.writeU64(leafAt, gpa(dataIndex) | flags | FS_D);
  setLeaf(4);
  const s1 = iommu_hwpt_vtd_s1.encode({ flags: 0n, pgtbl_addr: gpa(0), addr_width: 48 });
  const nested = env.driver.domainAllocNested(
    env.dev.ref,
    parent,
    0,
    userData(IOMMU_HWPT_DATA_VTD_S1, s1),
  ) as VtdNestedDomain;
  await nested.attachDev(env.dev.ref, undefined, undefined);
  return { ...env, parent, nested, hpa, setLeaf };
}

describe('nested translation (PGTT=3)', () => {
  test('a DMA walks the guest first stage through the second stage and reads host memory', async () => {
    const g = await guest();
    const r = await read(g.dev, GVA + 0x10n);
    expect(r.ok && r.data![0]).toBe(0xd1);
    expect(g.driver.probe(g.dev.ref).readEntry(0)).toMatchObject({
      p: true,
      pgtt: PGTT_NESTED,
      fsptptr: gpa(0),
      ssptptr: g.parent.pt.root,
      did: g.nested.did,
    });
    expect(g.nested.did).not.toBe(g.parent.did);
  });

  test('a guest PTE change is stale until IOMMU_HWPT_INVALIDATE; then the new page is read', async () => {
    const g = await guest();
    await read(g.dev, GVA);
    g.setLeaf(5);
    const stale = await read(g.dev, GVA);
    expect(stale.ok && stale.data![0]).toBe(0xd1);
    const res = await g.nested.cacheInvalidateUser!(invArray([{ addr: GVA, npages: 1n, flags: 1 }]));
    expect(res).toEqual({ handled: 1 });
    const fresh = await read(g.dev, GVA);
    expect(fresh.ok && fresh.data![0]).toBe(0xd2);
    expect(g.driver.qi.log.at(-1)!.map((d) => Number(d[0] & 0xfn))).toEqual([6, 5]);
  });

  test('an S2 unmap flushes every nested DID on the parent; a first-stage table fetch that misses S2 faults', async () => {
    const g = await guest({ ats: true });
    await read(g.dev, GVA);
    const n = g.driver.qi.log.length;
    await g.parent.unmap(gpa(2), 4096n); // the guest's page directory
    const sub = g.driver.qi.log[n]!;
    expect(sub.map((d) => Number(d[0] & 0xfn))).toEqual([2, 3, 5]);
    expect(Number((sub[0]![0] >> 16n) & 0xffffn)).toBe(g.nested.did);
    expect(sub[1]![1]).toBe(0x7fff_ffff_ffff_f001n); // the whole device TLB
    const r = await read(g.dev, GVA);
    expect(vtdRecord(r)).toMatchObject({ fr: 0x76 });
  });

  test('invalidation entries are checked in the kernel order and stop at the first bad one', async () => {
    const g = await guest();
    const inv = (e: Parameters<typeof invArray>[0], type?: number) =>
      g.nested.cacheInvalidateUser!(invArray(e, type));
    expect(await inv([], 7)).toMatchObject({ handled: 0, error: { errno: 'EINVAL' } });
    expect(await inv([{ addr: 0n, npages: U64_MAX }])).toEqual({ handled: 1 });
    expect(await inv([{ addr: 0x1000n, npages: 1n }, { flags: 2 }])).toMatchObject({
      handled: 1,
      error: { errno: 'EOPNOTSUPP' },
    });
    expect(await inv([{ __reserved: 1 }])).toMatchObject({ handled: 0, error: { errno: 'EOPNOTSUPP' } });
    expect(await inv([{ addr: 0x1001n, npages: 1n }])).toMatchObject({ error: { errno: 'EINVAL' } });
    expect(await inv([{ addr: 0x1000n, npages: U64_MAX }])).toMatchObject({ error: { errno: 'EINVAL' } });
  });

  test('allocation checks: flags, data type, parent, data length', async () => {
    const env = vtdFarm();
    const parent = env.driver.domainAllocPaging(env.dev.ref, IOMMU_HWPT_ALLOC_NEST_PARENT, undefined);
    const plain = env.driver.domainAllocPaging(env.dev.ref, 0, undefined);
    const s1 = iommu_hwpt_vtd_s1.encode({ pgtbl_addr: 0x1000n, addr_width: 48 });
    const alloc =
      (p: typeof parent, flags: number, type: number, bytes = s1) =>
      () =>
        env.driver.domainAllocNested(env.dev.ref, p, flags, userData(type, bytes));
    expect(alloc(parent, 2, IOMMU_HWPT_DATA_VTD_S1)).toThrow(
      expect.objectContaining({ errno: 'EOPNOTSUPP' }),
    );
    expect(alloc(parent, 0, 2)).toThrow(expect.objectContaining({ errno: 'EOPNOTSUPP' }));
    expect(alloc(plain, 0, IOMMU_HWPT_DATA_VTD_S1)).toThrow(expect.objectContaining({ errno: 'EINVAL' }));
    expect(alloc(parent, 0, IOMMU_HWPT_DATA_VTD_S1, s1.subarray(0, 16))).toThrow(
      expect.objectContaining({ errno: 'EINVAL' }),
    );
    const bad = env.driver.domainAllocNested(
      env.dev.ref,
      parent,
      0,
      userData(IOMMU_HWPT_DATA_VTD_S1, iommu_hwpt_vtd_s1.encode({ pgtbl_addr: 0x1000n, addr_width: 57 })),
    );
    await expect(bad.attachDev(env.dev.ref, undefined, undefined)).rejects.toMatchObject({ errno: 'EINVAL' });
  });
});
