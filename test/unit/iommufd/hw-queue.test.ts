import { describe, expect, test } from 'vitest';
import type { HwQueue } from '../../../actors/iommufd/hw-queue.ts';
import type { HwptPaging } from '../../../actors/iommufd/hwpt-paging.ts';
import {
  HPAGE_SIZE,
  IOMMU_HW_QUEUE_TYPE_DEFAULT,
  IOMMU_HW_QUEUE_TYPE_SELFTEST,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  MOCK_APERTURE_START,
  PAGE_SIZE,
} from '../../../index.ts';
import { destroy, nextId, viommuFixture } from './viommu-fixture.ts';

const P = BigInt(PAGE_SIZE);
const A = BigInt(MOCK_APERTURE_START);
const SELFTEST = IOMMU_HW_QUEUE_TYPE_SELFTEST;
const MAP = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

type Fixture = Awaited<ReturnType<typeof viommuFixture>>;

function queueAlloc(f: Fixture, fields: Record<string, unknown> = {}) {
  return f.fd.ioctl('IOMMU_HW_QUEUE_ALLOC', {
    viommu_id: f.viommuId,
    type: SELFTEST,
    index: 0,
    nesting_parent_iova: A,
    length: P,
    ...fields,
  });
}

/** The vIOMMU fixture with a huge (physically contiguous) buffer mapped at A. */
async function mappedFixture() {
  const f = await viommuFixture();
  const buf = f.proc.mmap(HPAGE_SIZE, { hugetlb: true });
  await f.fd.ioctl('IOMMU_IOAS_MAP', {
    ioas_id: f.ioasId,
    flags: MAP,
    user_va: buf,
    length: BigInt(HPAGE_SIZE),
    iova: A,
  });
  return { ...f, buf };
}

describe('IOMMU_HW_QUEUE_ALLOC: check order (catalogue 86)', () => {
  test('flags/type, length, overflow, vIOMMU, driver type, then the memory; IDs untouched', async () => {
    const f = await viommuFixture();
    const before = await nextId(f.fd);
    const err = (errno: string, fields: Record<string, unknown>) =>
      expect(queueAlloc(f, fields)).rejects.toMatchObject({ errno });
    await err('EOPNOTSUPP', { type: IOMMU_HW_QUEUE_TYPE_DEFAULT, length: 0, viommu_id: 0 });
    await err('EOPNOTSUPP', { flags: 1, length: 0 });
    await err('EINVAL', { length: 0, viommu_id: 0 });
    await err('EOVERFLOW', { nesting_parent_iova: ~0n & 0xffff_ffff_ffff_ffffn, viommu_id: 0 });
    await err('ENOENT', { viommu_id: 0 });
    await err('ENOENT', { viommu_id: f.parentId });
    await err('EOPNOTSUPP', { type: SELFTEST + 1 });
    // Unmapped IOVA: the queue and its internal access were built, then both given back.
    await err('ENOENT', {});
    expect(await nextId(f.fd)).toBe(before);
  });

  test('pages that are not physically contiguous are EFAULT', async () => {
    const f = await viommuFixture();
    const buf = f.proc.mmap(2n * P);
    // Fault page 1 in before page 0, with another allocation between: the frames are out of order.
    f.proc.write(buf + P, new Uint8Array([1]));
    f.proc.write(f.proc.mmap(P), new Uint8Array([1]));
    f.proc.write(buf, new Uint8Array([1]));
    await f.fd.ioctl('IOMMU_IOAS_MAP', {
      ioas_id: f.ioasId,
      flags: MAP,
      user_va: buf,
      length: 2n * P,
      iova: A,
    });
    const before = await nextId(f.fd);
    await expect(queueAlloc(f, { length: 2n * P })).rejects.toMatchObject({ errno: 'EFAULT' });
    expect(await nextId(f.fd)).toBe(before);
    // Nothing stays pinned or locked: the area unmaps.
    await f.fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: f.ioasId, iova: A, length: 2n * P });
    // The twin: faulted in order, the frames are consecutive and the queue is accepted.
    const ok = f.proc.mmap(2n * P);
    f.proc.write(ok, new Uint8Array([1]));
    f.proc.write(ok + P, new Uint8Array([1]));
    expect(f.proc.mm.lookupFrame(ok + P)).toBe(f.proc.mm.lookupFrame(ok)! + 1n);
    await f.fd.ioctl('IOMMU_IOAS_MAP', {
      ioas_id: f.ioasId,
      flags: MAP,
      user_va: ok,
      length: 2n * P,
      iova: A,
    });
    expect((await queueAlloc(f, { length: 2n * P })).out_hw_queue_id).toBe(before);
  });
});

describe('HW queue lifetime', () => {
  test('a queue pins and locks its memory, holds the vIOMMU, and takes the next ID for its access', async () => {
    const f = await mappedFixture();
    const first = await nextId(f.fd);
    const q0 = await queueAlloc(f);
    expect(q0.out_hw_queue_id).toBe(first);
    // The internal ACCESS took the ID right after; it is invisible.
    expect(await nextId(f.fd)).toBe(first + 2);
    await expect(destroy(f.fd, first + 1)).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(
      f.fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: f.ioasId, iova: A, length: BigInt(HPAGE_SIZE) }),
    ).rejects.toMatchObject({ errno: 'EBUSY' });
    await destroy(f.fd, f.nestedId);
    await expect(destroy(f.fd, f.viommuId)).rejects.toMatchObject({ errno: 'EBUSY' });
    await destroy(f.fd, first);
    // The access went with its queue.
    expect([f.fd.ctx.objects.isTaken(first), f.fd.ctx.objects.isTaken(first + 1)]).toEqual([false, false]);
    await f.fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: f.ioasId, iova: A, length: BigInt(HPAGE_SIZE) });
    await destroy(f.fd, f.viommuId);
  });

  test('base PA is the IOVA’s S2 translation, sub-page offset included', async () => {
    const f = await mappedFixture();
    const out = await queueAlloc(f, { nesting_parent_iova: A + 3n * P + 0x100n, length: 0x100n });
    const q = f.fd.ctx.objects.get<HwQueue>(out.out_hw_queue_id as number, 'HW_QUEUE');
    const parent = f.fd.ctx.objects.get<HwptPaging>(f.parentId, 'HWPT_PAGING');
    expect(q.basePa).toBe(parent.domain.iovaToPhys(A + 3n * P + 0x100n));
    expect(q.basePa % P).toBe(0x100n);
  });

  test('mock slots: index >= 2 EINVAL, a used index EEXIST, index 1 before 0 EIO', async () => {
    const f = await mappedFixture();
    const before = await nextId(f.fd);
    await expect(queueAlloc(f, { index: 2 })).rejects.toMatchObject({ errno: 'EINVAL' });
    await expect(queueAlloc(f, { index: 1 })).rejects.toMatchObject({ errno: 'EIO' });
    expect(await nextId(f.fd)).toBe(before);
    await queueAlloc(f, { index: 0 });
    await expect(queueAlloc(f, { index: 0, nesting_parent_iova: A + P })).rejects.toMatchObject({
      errno: 'EEXIST',
    });
    const q1 = await queueAlloc(f, { index: 1, nesting_parent_iova: A + P });
    expect(q1.out_hw_queue_id).toBe(before + 2);
  });

  test('queue 1 depends on queue 0: destroy goes in descending order', async () => {
    const f = await mappedFixture();
    const q0 = (await queueAlloc(f, { index: 0 })).out_hw_queue_id as number;
    const q1 = (await queueAlloc(f, { index: 1, nesting_parent_iova: A + P })).out_hw_queue_id as number;
    await expect(destroy(f.fd, q0)).rejects.toMatchObject({ errno: 'EBUSY' });
    await destroy(f.fd, q1);
    await destroy(f.fd, q0);
    // Both slots are free again.
    await queueAlloc(f, { index: 0 });
    await queueAlloc(f, { index: 1, nesting_parent_iova: A + P });
  });

  test('close with queues alive destroys them and unpins everything', async () => {
    const f = await mappedFixture();
    await queueAlloc(f, { index: 0 });
    await queueAlloc(f, { index: 1, nesting_parent_iova: A + P });
    await f.fd.close();
    expect(f.fd.ctx.objects.size).toBe(0);
    expect(f.proc.mm.counters.pinnedPages).toBe(0n);
  });
});
