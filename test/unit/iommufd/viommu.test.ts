import { describe, expect, test } from 'vitest';
import type { Viommu } from '../../../actors/iommufd/viommu.ts';
import { iommufdFopsMmap } from '../../../actors/iommufd/viommu-mmap.ts';
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_VIOMMU_TYPE_DEFAULT,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  iommu_viommu_selftest,
  PAGE_SIZE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from '../../../index.ts';
import type { MockViommu } from '../../../vendors/mock/viommu.ts';
import { destroy, ioasFixture, nextId, placeUser, rawIoctl, viommuFixture } from './viommu-fixture.ts';

const P = BigInt(PAGE_SIZE);
const SELFTEST = IOMMU_VIOMMU_TYPE_SELFTEST;

async function parentFixture() {
  const f = await ioasFixture();
  const parent = await f.fd.ioctl('IOMMU_HWPT_ALLOC', {
    dev_id: f.idevId,
    pt_id: f.ioasId,
    flags: IOMMU_HWPT_ALLOC_NEST_PARENT,
  });
  return { ...f, parentId: parent.out_hwpt_id as number };
}

describe('IOMMU_VIOMMU_ALLOC', () => {
  test('check order: flags/type, device, driver type, hwpt, nest parent', async () => {
    const { fd, idevId, ioasId, hwptId, parentId } = await parentFixture();
    const alloc = (f: Record<string, unknown>) =>
      fd.ioctl('IOMMU_VIOMMU_ALLOC', { dev_id: idevId, hwpt_id: parentId, type: SELFTEST, ...f });
    const before = await nextId(fd);
    // Each probe fails on the first bad field even when later ones are bad too.
    await expect(alloc({ flags: 1, dev_id: 99, hwpt_id: 0 })).rejects.toMatchObject({ errno: 'EOPNOTSUPP' });
    await expect(alloc({ type: IOMMU_VIOMMU_TYPE_DEFAULT, dev_id: 99 })).rejects.toMatchObject({
      errno: 'EOPNOTSUPP',
    });
    await expect(alloc({ dev_id: 99, hwpt_id: 0 })).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(alloc({ dev_id: ioasId })).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(alloc({ type: SELFTEST + 1, hwpt_id: 0 })).rejects.toMatchObject({ errno: 'EOPNOTSUPP' });
    await expect(alloc({ hwpt_id: 0 })).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(alloc({ hwpt_id: ioasId })).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(alloc({ hwpt_id: hwptId })).rejects.toMatchObject({ errno: 'EINVAL' });
    expect(await nextId(fd)).toBe(before);
    const { out_viommu_id } = await alloc({});
    expect(out_viommu_id).toBe(before);
    // The vIOMMU holds its parent.
    await expect(destroy(fd, parentId)).rejects.toMatchObject({ errno: 'EBUSY' });
    await destroy(fd, out_viommu_id as number);
    await destroy(fd, parentId);
  });

  test('driver data: too short EINVAL, non-zero tail E2BIG, bad pointer EFAULT; nothing stays allocated', async () => {
    const { fd, host, proc, idevId, parentId } = await parentFixture();
    // Readable but not writable: init succeeds, the copy-back of the outputs faults.
    const ro = placeUser(proc, iommu_viommu_selftest.encode({ in_data: 7 }), true);
    const frames = () => host.phys.stats().allocatedFrames;
    const base = frames();
    const before = await nextId(fd);
    const alloc = (data_uptr: bigint | Uint8Array, data_len?: number) =>
      fd.ioctl('IOMMU_VIOMMU_ALLOC', {
        dev_id: idevId,
        hwpt_id: parentId,
        type: SELFTEST,
        data_uptr,
        data_len,
      });
    await expect(alloc(new Uint8Array(4))).rejects.toMatchObject({ errno: 'EINVAL' });
    const tail = new Uint8Array(32);
    tail[31] = 1;
    await expect(alloc(tail)).rejects.toMatchObject({ errno: 'E2BIG' });
    await expect(alloc(0n, 24)).rejects.toMatchObject({ errno: 'EFAULT' });
    await expect(alloc(ro, 24)).rejects.toMatchObject({ errno: 'EFAULT' });
    expect(await nextId(fd)).toBe(before);
    expect(frames()).toBe(base);
    // The vIOMMU that faulted took a region: it was given back, so the next one gets PAGE_SIZE again.
    const ok = await alloc(new Uint8Array(32).fill(0, 0).map((_, i) => (i === 0 ? 5 : 0)));
    expect(ok.out_viommu_id).toBe(before);
    expect(ok.data).toEqual(
      new Uint8Array([
        ...iommu_viommu_selftest.encode({
          in_data: 5,
          out_data: 5,
          out_mmap_offset: P,
          out_mmap_length: 2n * P,
        }),
        ...new Uint8Array(8),
      ]),
    );
  });

  test('without data: no region; with data: in_data echoed, mmap offsets from PAGE_SIZE, lowest free', async () => {
    const { fd, idevId, parentId } = await parentFixture();
    const alloc = (in_data?: number) =>
      fd.ioctl('IOMMU_VIOMMU_ALLOC', {
        dev_id: idevId,
        hwpt_id: parentId,
        type: SELFTEST,
        data_uptr: in_data === undefined ? undefined : { in_data },
      });
    const plain = await alloc();
    expect(plain.data).toBeUndefined();
    const a = await alloc(0xbadbeef);
    expect(a.data).toEqual({
      in_data: 0xbadbeef,
      out_data: 0xbadbeef,
      out_mmap_offset: P,
      out_mmap_length: 2n * P,
    });
    const b = await alloc(1);
    expect((b.data as { out_mmap_offset: bigint }).out_mmap_offset).toBe(3n * P);
    await destroy(fd, a.out_viommu_id as number);
    const c = await alloc(2);
    expect((c.data as { out_mmap_offset: bigint }).out_mmap_offset).toBe(P);
  });
});

describe('mmap of a vIOMMU region through /dev/iommu', () => {
  async function regionFixture() {
    const f = await parentFixture();
    const out = await f.fd.ioctl('IOMMU_VIOMMU_ALLOC', {
      dev_id: f.idevId,
      hwpt_id: f.parentId,
      type: SELFTEST,
      data_uptr: { in_data: 0x1234_5678 },
    });
    const data = out.data as { out_mmap_offset: bigint; out_mmap_length: bigint };
    const viommuId = out.out_viommu_id as number;
    const viommu = f.fd.ctx.objects.get<Viommu>(viommuId, 'VIOMMU');
    return { ...f, viommuId, viommu, offset: data.out_mmap_offset, length: data.out_mmap_length };
  }

  test('the pages are the driver’s frames: in_data is readable, user writes reach the driver', async () => {
    const { proc, fd, offset, length, viommu, host } = await regionFixture();
    const va = proc.mmap(length, { fd: fd.fd, offset, shared: true });
    const dv = new DataView(proc.read(va, 4).buffer);
    expect(dv.getUint32(0, true)).toBe(0x1234_5678);
    proc.write(va + P + 8n, new Uint8Array([1, 2, 3]));
    const pa = (viommu.ops as MockViommu).regionPa!;
    expect(host.phys.read(pa + P + 8n, 3)).toEqual(new Uint8Array([1, 2, 3]));
  });

  test('EINVAL not shared, EPERM exec, ENXIO unless the exact offset and length', async () => {
    const { proc, fd, offset, length } = await regionFixture();
    const map = (o: { offset?: bigint; length?: bigint; shared?: boolean; prot?: number }) =>
      proc.mmap(o.length ?? length, {
        fd: fd.fd,
        offset: o.offset ?? offset,
        shared: o.shared ?? true,
        prot: o.prot,
      });
    expect(() => map({ shared: false })).toThrow(expect.objectContaining({ errno: 'EINVAL' }));
    expect(() => map({ prot: PROT_READ | PROT_EXEC })).toThrow(expect.objectContaining({ errno: 'EPERM' }));
    // Order: not shared is reported before exec.
    expect(() => map({ shared: false, prot: PROT_EXEC })).toThrow(
      expect.objectContaining({ errno: 'EINVAL' }),
    );
    expect(() => map({ offset: 0n })).toThrow(expect.objectContaining({ errno: 'ENXIO' }));
    expect(() => map({ offset: offset + P, length: P })).toThrow(expect.objectContaining({ errno: 'ENXIO' }));
    expect(() => map({ length: P })).toThrow(expect.objectContaining({ errno: 'ENXIO' }));
    expect(() => map({ offset: 64n * P })).toThrow(expect.objectContaining({ errno: 'ENXIO' }));
    expect(proc.mm.vmas().some((v) => v.fd === fd.fd)).toBe(false);
    // The length check itself (mmap(2) rounds lengths up before the file sees them).
    expect(() =>
      iommufdFopsMmap(fd.ctx, { offset, length: length - 1n, prot: PROT_READ | PROT_WRITE, shared: true }),
    ).toThrow(expect.objectContaining({ errno: 'EINVAL' }));
  });

  test('a live mapping (or any piece of it) keeps the vIOMMU busy', async () => {
    const { proc, fd, offset, length, viommuId, parentId } = await regionFixture();
    const va = proc.mmap(length, { fd: fd.fd, offset, shared: true });
    await expect(destroy(fd, viommuId)).rejects.toMatchObject({ errno: 'EBUSY' });
    proc.munmap(va, P);
    await expect(destroy(fd, viommuId)).rejects.toMatchObject({ errno: 'EBUSY' });
    proc.munmap(va + P, P);
    await destroy(fd, viommuId);
    await destroy(fd, parentId);
    // The region went with its vIOMMU.
    expect(() => proc.mmap(length, { fd: fd.fd, offset, shared: true })).toThrow(
      expect.objectContaining({ errno: 'ENXIO' }),
    );
  });

  test('a mapping keeps the ctx open after close(fd); the last munmap tears it down', async () => {
    const { proc, fd, offset, length, viommu } = await regionFixture();
    const pfn = (viommu.ops as MockViommu).regionPa! / P;
    const va = proc.mmap(length, { fd: fd.fd, offset, shared: true });
    await fd.close();
    expect(fd.ctx.closed).toBe(false);
    expect(fd.ctx.objects.size).toBeGreaterThan(0);
    proc.munmap(va, length);
    await fd.file.closed;
    expect(fd.ctx.closed).toBe(true);
    expect(fd.ctx.objects.size).toBe(0);
    // The region's pages were freed with the vIOMMU.
    expect(fd.process.host.phys.isAllocated(pfn)).toBe(false);
    expect(fd.process.host.phys.isAllocated(pfn + 1n)).toBe(false);
  });
});

describe('vIOMMU lifetime', () => {
  test('nested HWPTs hold the vIOMMU; close destroys the whole family', async () => {
    const { fd, viommuId, nestedId, parentId } = await viommuFixture();
    await expect(destroy(fd, viommuId)).rejects.toMatchObject({ errno: 'EBUSY' });
    await expect(destroy(fd, parentId)).rejects.toMatchObject({ errno: 'EBUSY' });
    await destroy(fd, nestedId);
    await destroy(fd, viommuId);
    await destroy(fd, parentId);
  });

  test('close with a vIOMMU, nested HWPT and region alive leaves nothing', async () => {
    const { fd, idevId, parentId, host } = await viommuFixture();
    await fd.ioctl('IOMMU_VIOMMU_ALLOC', {
      dev_id: idevId,
      hwpt_id: parentId,
      type: SELFTEST,
      data_uptr: { in_data: 1 },
    });
    const viommus = fd.ctx.liveObjects().filter((o) => o.type === 'VIOMMU');
    const pas = viommus.map((v) => ((v as Viommu).ops as MockViommu).regionPa).filter((x) => x !== undefined);
    expect(pas).toHaveLength(1);
    await fd.close();
    expect(fd.ctx.objects.size).toBe(0);
    expect(host.phys.isAllocated(pas[0]! / P)).toBe(false);
  });

  test('__reserved is not checked by VIOMMU_ALLOC (the kernel ignores it)', async () => {
    const { fd, idevId, parentId } = await parentFixture();
    const out = await rawIoctl(fd, 'IOMMU_VIOMMU_ALLOC', {
      dev_id: idevId,
      hwpt_id: parentId,
      type: SELFTEST,
      __reserved: 1,
    });
    expect(out.out_viommu_id).toBeGreaterThan(0);
  });
});
