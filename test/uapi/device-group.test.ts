/**
 * device.c / group rules (spec §1 "Security / group rules", §1 reference graph, §2.21) through the
 * VFIO cdev API: DMA ownership per group, MSI isolation, per-group attachment, auto-domains,
 * unbind, and DMA reaching (or not) the process's bytes. Every failure is checked to leave the
 * state as it was.
 */
import { describe, expect, test } from 'vitest';
import {
  type DmaResult,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_TEST_OP_PASID_ATTACH,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  type Iommufd,
  MOCK_APERTURE_START,
  MOCK_FLAGS_DEVICE_PASID,
  type Process,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { ioasMap, ioasUnmap, mockDomain, PAGE_SIZE } from './helpers/fixture.ts';
import {
  destroy,
  hwptAlloc,
  ioasAlloc,
  mockDomainReplace,
  pasidCheckHwpt,
  type VfioHost,
  vdeviceAlloc,
  vfioAttach,
  vfioBind,
  vfioDetach,
  vfioHost,
  viommuAlloc,
} from './helpers/nested.ts';

const A = BigInt(MOCK_APERTURE_START);
const P = PAGE_SIZE;

/** A buffer of `pages` pages filled with `byte`, as the selftest writes its buffer before use. */
function buffer(proc: Process, pages = 4n, byte = 0xa5): bigint {
  const va = proc.mmap(pages * P, { shared: true });
  proc.write(va, new Uint8Array(Number(pages * P)).fill(byte));
  return va;
}

/** An IOAS with `va` mapped FIXED at A (inside the mock aperture). */
async function ioasWithMap(fd: Iommufd, va: bigint, pages = 4n, flags?: number): Promise<number> {
  const ioas = await ioasAlloc(fd);
  await ioasMap(fd, ioas, va, pages * P, A, flags);
  return ioas;
}

function dma(
  h: VfioHost,
  dev: string,
  op: 'read' | 'write',
  iova: bigint,
  length: number,
  data?: Uint8Array,
  pasid?: number,
) {
  return h.host
    .device(dev)
    .dma({ op, iova, length, ...(data ? { data } : {}), ...(pasid === undefined ? {} : { pasid }) });
}

/** The first bytes a DMA read at A returns, or the fault reason. */
async function readAt(h: VfioHost, dev: string, iova = A, pasid?: number): Promise<number | string> {
  const r: DmaResult = await dma(h, dev, 'read', iova, 1, undefined, pasid);
  return r.ok ? r.data![0]! : r.fault.reason;
}

describe('bind: DMA ownership of the group (§1)', () => {
  test('a second ctx binding a device of a group owned by another ctx → EBUSY; the owner ctx may', async () => {
    const h = vfioHost([
      { name: 'd0', group: 'g0' },
      { name: 'd1', group: 'g0' },
    ]);
    const fd2 = h.proc.openIommufd();
    const a = await vfioBind(h.proc, h.fd, 'd0');
    const d1 = h.proc.openVfioDevice('d1');
    await expectErrno('EBUSY', d1.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd2.fd }));
    // Nothing happened in fd2: its first object still gets ID 1; and d1 can still bind to the owner.
    expect(await ioasAlloc(fd2)).toBe(1);
    const out = await expectOk(d1.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: h.fd.fd }));
    expect(out.out_devid).toBe(a.devId + 1);
    // Another process is another owner as well.
    const other = h.host.spawnProcess({ name: 'other' });
    const ofd = other.openIommufd();
    await expectErrno(
      'EBUSY',
      vfioBind(other, ofd, 'd1').then(() => undefined),
    );
    // Once every device of the group is unbound, the group is free.
    await a.vdev.close();
    await expectErrno('EBUSY', vfioBind(h.proc, fd2, 'd0'));
    await d1.close();
    const b = await expectOk(vfioBind(h.proc, fd2, 'd0'));
    expect(b.devId).toBe(2);
    await b.vdev.close();
  });

  test('a device of the group bound to a host kernel driver blocks the whole group → EBUSY', async () => {
    const h = vfioHost([
      { name: 'd0', group: 'g0' },
      { name: 'nvme0', group: 'g0', kernelDriver: 'nvme' },
      { name: 'd2', group: 'g1' },
    ]);
    await expectErrno('EBUSY', vfioBind(h.proc, h.fd, 'd0'));
    // Nothing was created or claimed: the next ID is 1, and another group is unaffected.
    const d2 = await expectOk(vfioBind(h.proc, h.fd, 'd2'));
    expect(d2.devId).toBe(1);
    await d2.vdev.close();
  });

  test('a group without isolated MSI → EPERM, checked before DMA ownership', async () => {
    const h = vfioHost([
      { name: 'd0', group: 'g0', msiIsolated: false },
      { name: 'nvme0', group: 'g0', kernelDriver: 'nvme' },
      { name: 'd2', group: 'g1' },
      { name: 'd3', group: 'g1', msiIsolated: false },
    ]);
    await expectErrno('EPERM', vfioBind(h.proc, h.fd, 'd0'));
    // iommu_group_has_isolated_msi looks at the whole group: d2 is fine itself, d3 is not.
    await expectErrno('EPERM', vfioBind(h.proc, h.fd, 'd2'));
    expect(await ioasAlloc(h.fd)).toBe(1);
  });

  test('bind twice → EINVAL; a non-iommufd fd → EBADFD; a closed fd → EBADF', async () => {
    const h = vfioHost([{ name: 'd0' }]);
    const memfd = h.proc.memfd(4096);
    const d0 = h.proc.openVfioDevice('d0');
    await expectErrno('EBADFD', d0.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: memfd }));
    await expectErrno('EBADF', d0.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: 999 }));
    const { out_devid } = await expectOk(d0.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: h.fd.fd }));
    expect(out_devid).toBe(1);
    await expectErrno('EINVAL', d0.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: h.fd.fd }));
    // The driver's reference: DESTROY of a DEVICE is EBUSY, and it stays bound.
    await expectErrno('EBUSY', destroy(h.fd, out_devid as number));
    expect(await ioasAlloc(h.fd)).toBe(2);
    await d0.close();
  });

  test('attach/detach need a bound device; bad flags or a short argsz → EINVAL', async () => {
    const h = vfioHost([{ name: 'd0' }]);
    const ioas = await ioasAlloc(h.fd);
    const d0 = h.proc.openVfioDevice('d0');
    await expectErrno('EINVAL', vfioAttach(d0, ioas));
    await expectErrno('EINVAL', vfioDetach(d0));
    await d0.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: h.fd.fd });
    await expectErrno('EINVAL', d0.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { flags: 2, pt_id: ioas }));
    await expectErrno('EINVAL', d0.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { argsz: 8, pt_id: ioas }));
    await expectErrno('EINVAL', d0.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', { flags: 2 }));
    // Neither made an auto-domain: the next ID is right after the device's.
    expect(await ioasAlloc(h.fd)).toBe(3);
    await d0.close();
  });
});

describe('attach: per group and per PASID (§1, §2.21)', () => {
  test('other devices of the group must attach the same HWPT, else EINVAL; the group shares one domain', async () => {
    const h = vfioHost([
      { name: 'd0', group: 'g0' },
      { name: 'd1', group: 'g0' },
    ]);
    const va = buffer(h.proc, 4n, 0x11);
    const vb = buffer(h.proc, 4n, 0x22);
    const ioasA = await ioasWithMap(h.fd, va);
    const ioasB = await ioasWithMap(h.fd, vb);
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    const d1 = await vfioBind(h.proc, h.fd, 'd1');
    const hA = await hwptAlloc(h.fd, d0.devId, ioasA);
    const hB = await hwptAlloc(h.fd, d0.devId, ioasB);
    expect(await readAt(h, 'd0')).toBe('blocked');
    expect(await expectOk(vfioAttach(d0.vdev, hA))).toBe(hA);
    // The domain is the group's: d1 translates through it before its own attach.
    expect(await readAt(h, 'd1')).toBe(0x11);
    await expectErrno('EINVAL', vfioAttach(d1.vdev, hB));
    // An IOAS would need a new auto-domain, which is not hA either.
    await expectErrno('EINVAL', vfioAttach(d1.vdev, ioasA));
    // Unchanged: both still on hA; hB has no user; the aborted auto-domain left no ID behind.
    expect(await readAt(h, 'd0')).toBe(0x11);
    expect(await readAt(h, 'd1')).toBe(0x11);
    await expectOk(destroy(h.fd, hB));
    expect(await ioasAlloc(h.fd)).toBe(hB);
    expect(await expectOk(vfioAttach(d1.vdev, hA))).toBe(hA);
    // Each attached device holds hA.
    await vfioDetach(d0.vdev);
    await expectErrno('EBUSY', destroy(h.fd, hA));
    // The group stays on hA while any device is attached.
    expect(await readAt(h, 'd0')).toBe(0x11);
    await vfioDetach(d1.vdev);
    expect(await readAt(h, 'd0')).toBe('blocked');
    expect(await readAt(h, 'd1')).toBe('blocked');
    await expectOk(destroy(h.fd, hA));
    await d0.vdev.close();
    await d1.vdev.close();
  });

  test('VFIO attach on an attached device is a replace, and moves the whole group', async () => {
    const h = vfioHost([
      { name: 'd0', group: 'g0' },
      { name: 'd1', group: 'g0' },
    ]);
    const ioasA = await ioasWithMap(h.fd, buffer(h.proc, 4n, 0x11));
    const ioasB = await ioasWithMap(h.fd, buffer(h.proc, 4n, 0x22));
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    const d1 = await vfioBind(h.proc, h.fd, 'd1');
    const hA = await hwptAlloc(h.fd, d0.devId, ioasA);
    const hB = await hwptAlloc(h.fd, d0.devId, ioasB);
    await vfioAttach(d0.vdev, hA);
    await vfioAttach(d1.vdev, hA);
    expect(await expectOk(vfioAttach(d0.vdev, hB))).toBe(hB);
    expect(await readAt(h, 'd0')).toBe(0x22);
    expect(await readAt(h, 'd1')).toBe(0x22);
    // Both devices' references moved: hA is free, hB is held.
    await expectOk(destroy(h.fd, hA));
    await expectErrno('EBUSY', destroy(h.fd, hB));
    // Replace with the same hwpt is a no-op; replace to an IOAS makes an auto-domain.
    expect(await vfioAttach(d1.vdev, hB)).toBe(hB);
    const auto = await expectOk(vfioAttach(d1.vdev, ioasA));
    expect(auto).not.toBe(hB);
    expect(await readAt(h, 'd0')).toBe(0x11);
    await expectOk(destroy(h.fd, hB));
    await d0.vdev.close();
    await d1.vdev.close();
    // The auto-domain went with the last device.
    await expectErrno('ENOENT', destroy(h.fd, auto));
  });

  test('a failed replace (EINVAL) changes nothing', async () => {
    const h = vfioHost([{ name: 'd0', pasidBits: 20 }]);
    const ioas = await ioasWithMap(h.fd, buffer(h.proc, 4n, 0x33));
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    const compat = await hwptAlloc(h.fd, d0.devId, ioas, IOMMU_HWPT_ALLOC_PASID);
    const plain = await hwptAlloc(h.fd, d0.devId, ioas, 0);
    await vfioAttach(d0.vdev, compat);
    await vfioAttach(d0.vdev, compat, 7);
    // The RID cannot leave PASID-compat while a PASID is attached.
    await expectErrno('EINVAL', vfioAttach(d0.vdev, plain));
    await expectErrno('EINVAL', vfioAttach(d0.vdev, ioas));
    expect(await readAt(h, 'd0')).toBe(0x33);
    await expectOk(destroy(h.fd, plain));
    await expectErrno('EBUSY', destroy(h.fd, compat));
    await vfioDetach(d0.vdev, 7);
    expect(await expectOk(vfioAttach(d0.vdev, ioas))).not.toBe(compat);
    await expectOk(destroy(h.fd, compat));
    await d0.vdev.close();
  });

  test('attaching a device already attached at that PASID → EBUSY (selftest PASID op), nothing changes', async () => {
    const h = vfioHost([]);
    const ioas = await ioasAlloc(h.fd);
    const md = await mockDomain(h.fd, ioas, MOCK_FLAGS_DEVICE_PASID);
    const s2 = await hwptAlloc(h.fd, md.idevId, ioas, IOMMU_HWPT_ALLOC_PASID);
    const s2b = await hwptAlloc(h.fd, md.idevId, ioas, IOMMU_HWPT_ALLOC_PASID);
    const attach = (pt: number) =>
      h.fd.ioctl('IOMMU_TEST_CMD', {
        op: IOMMU_TEST_OP_PASID_ATTACH,
        id: md.stdevId,
        pasid_attach: { pasid: 9, pt_id: pt },
      });
    await mockDomainReplace(h.fd, md.stdevId, s2);
    await expectOk(attach(s2));
    await expectErrno('EBUSY', attach(s2));
    await expectErrno('EBUSY', attach(s2b));
    await expectOk(pasidCheckHwpt(h.fd, md.stdevId, 9, s2));
    await expectOk(destroy(h.fd, s2b));
  });

  test('PASID attach through VFIO: a PASID-compat hwpt; DMA with that PASID uses it', async () => {
    const h = vfioHost([{ name: 'd0', pasidBits: 20 }]);
    const ioasRid = await ioasWithMap(h.fd, buffer(h.proc, 4n, 0x44));
    const ioasPasid = await ioasWithMap(h.fd, buffer(h.proc, 4n, 0x55));
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    const s2 = await hwptAlloc(h.fd, d0.devId, ioasPasid, IOMMU_HWPT_ALLOC_PASID);
    // An IOAS at a PASID means a non-compat auto-domain: EINVAL.
    await expectErrno('EINVAL', vfioAttach(d0.vdev, ioasPasid, 5));
    // PASID ≥ max_pasids (2^20 for the mock): EINVAL.
    await expectErrno('EINVAL', vfioAttach(d0.vdev, s2, 1 << 20));
    expect(await expectOk(vfioAttach(d0.vdev, s2, 5))).toBe(s2);
    expect(await readAt(h, 'd0', A, 5)).toBe(0x55);
    expect(await readAt(h, 'd0', A, 6)).toBe('blocked');
    expect(await readAt(h, 'd0')).toBe('blocked');
    // The RID's hwpt must be PASID-compat while a PASID is attached: an auto-domain is not.
    await expectErrno('EINVAL', vfioAttach(d0.vdev, ioasRid));
    const s2rid = await hwptAlloc(h.fd, d0.devId, ioasRid, IOMMU_HWPT_ALLOC_PASID);
    expect(await expectOk(vfioAttach(d0.vdev, s2rid))).toBe(s2rid);
    expect(await readAt(h, 'd0')).toBe(0x44);
    expect(await readAt(h, 'd0', A, 5)).toBe(0x55);
    // Detaching the PASID leaves the RID alone.
    await vfioDetach(d0.vdev, 5);
    expect(await readAt(h, 'd0', A, 5)).toBe('blocked');
    expect(await readAt(h, 'd0')).toBe(0x44);
    await d0.vdev.close();
  });
});

describe('auto-domains (§1, §2.21)', () => {
  test('reused across groups on one IOAS; destroyed with their last device, the old ID then ENOENT', async () => {
    const h = vfioHost([
      { name: 'd0', group: 'g0' },
      { name: 'd2', group: 'g1' },
    ]);
    const ioas = await ioasWithMap(h.fd, buffer(h.proc));
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    const d2 = await vfioBind(h.proc, h.fd, 'd2');
    const auto = await vfioAttach(d0.vdev, ioas);
    expect(auto).toBe(d2.devId + 1);
    expect(await vfioAttach(d2.vdev, ioas)).toBe(auto);
    await expectErrno('EBUSY', destroy(h.fd, auto));
    await expectErrno('EBUSY', destroy(h.fd, ioas));
    await vfioDetach(d0.vdev);
    await expectErrno('EBUSY', destroy(h.fd, auto));
    await vfioDetach(d2.vdev);
    await expectErrno('ENOENT', destroy(h.fd, auto));
    // Its reference on the IOAS went too, and its ID is the lowest free again.
    expect(await ioasAlloc(h.fd)).toBe(auto);
    await expectOk(destroy(h.fd, ioas));
    await d0.vdev.close();
    await d2.vdev.close();
  });

  test('an explicitly allocated HWPT survives the detach of its last device', async () => {
    const h = vfioHost([{ name: 'd0' }]);
    const ioas = await ioasWithMap(h.fd, buffer(h.proc));
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    const x = await hwptAlloc(h.fd, d0.devId, ioas);
    expect(await vfioAttach(d0.vdev, x)).toBe(x);
    await expectErrno('EBUSY', destroy(h.fd, x));
    await vfioDetach(d0.vdev);
    // Detach twice is a no-op.
    await expectOk(vfioDetach(d0.vdev));
    await expectOk(destroy(h.fd, x));
    await d0.vdev.close();
  });

  test('an auto-domain of one IOMMU instance is not compatible with a device of another', async () => {
    const h = vfioHost([{ name: 'd0' }]);
    h.host.addIommu({ name: 'm1', vendor: 'mock' });
    h.host.addDevice({ name: 'e0', iommu: 'm1' });
    const ioas = await ioasWithMap(h.fd, buffer(h.proc, 4n, 0x66));
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    const e0 = await vfioBind(h.proc, h.fd, 'e0');
    const autoD = await vfioAttach(d0.vdev, ioas);
    const autoE = await vfioAttach(e0.vdev, ioas);
    expect(autoE).not.toBe(autoD);
    expect(await readAt(h, 'd0')).toBe(0x66);
    expect(await readAt(h, 'e0')).toBe(0x66);
    // A HWPT of m0 cannot be attached to a device behind m1 either.
    await expectErrno('EINVAL', vfioAttach(e0.vdev, autoD));
    expect(await readAt(h, 'e0')).toBe(0x66);
    await d0.vdev.close();
    await e0.vdev.close();
  });

  test('IOAS destroy is EBUSY while an auto-domain lives in it; attach to a non-pt object → EINVAL', async () => {
    const h = vfioHost([{ name: 'd0' }]);
    const ioas = await ioasAlloc(h.fd);
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    await expectErrno('EINVAL', vfioAttach(d0.vdev, d0.devId));
    await expectErrno('ENOENT', vfioAttach(d0.vdev, 0x77));
    const auto = await vfioAttach(d0.vdev, ioas);
    expect(auto).toBe(d0.devId + 1);
    await expectErrno('EBUSY', destroy(h.fd, ioas));
    await d0.vdev.close();
    await expectErrno('ENOENT', destroy(h.fd, auto));
    await expectOk(destroy(h.fd, ioas));
  });
});

describe('unbind (close of the VFIO fd) (§1)', () => {
  test('tombstones the vDEVICE: its ID gives ENOENT forever and is never reused', async () => {
    const h = vfioHost([{ name: 'd0' }]);
    const ioas = await ioasAlloc(h.fd);
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    await vfioAttach(d0.vdev, ioas);
    const parent = await hwptAlloc(h.fd, d0.devId, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT);
    const { viommuId } = await viommuAlloc(h.fd, d0.devId, parent, IOMMU_VIOMMU_TYPE_SELFTEST);
    const vdev = await vdeviceAlloc(h.fd, viommuId, d0.devId, 0x99n);
    await expectErrno('EBUSY', destroy(h.fd, viommuId));
    await d0.vdev.close();
    await expectErrno('ENOENT', destroy(h.fd, vdev));
    await expectErrno('ENOENT', destroy(h.fd, d0.devId));
    // The tombstone holds no reference: the vIOMMU and its parent can go.
    await expectOk(destroy(h.fd, viommuId));
    await expectOk(destroy(h.fd, parent));
    const ids: number[] = [];
    for (let i = 0; i < vdev + 2; i++) ids.push(await ioasAlloc(h.fd));
    expect(ids).not.toContain(vdev);
    const again = await vfioBind(h.proc, h.fd, 'd0');
    expect(again.devId).not.toBe(vdev);
    await expectErrno('ENOENT', destroy(h.fd, vdev));
    await again.vdev.close();
  });

  test('detaches (the auto-domain dies, DMA is blocked) and releases the group for another ctx', async () => {
    const h = vfioHost([
      { name: 'd0', group: 'g0' },
      { name: 'd1', group: 'g0' },
    ]);
    const va = buffer(h.proc, 4n, 0x77);
    const ioas = await ioasWithMap(h.fd, va);
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    const auto = await vfioAttach(d0.vdev, ioas);
    expect(await readAt(h, 'd0')).toBe(0x77);
    await d0.vdev.close();
    await expectErrno('ENOENT', destroy(h.fd, auto));
    expect(await readAt(h, 'd0')).toBe('blocked');
    expect(await readAt(h, 'd1')).toBe('blocked');
    const fd2 = h.proc.openIommufd();
    const b = await expectOk(vfioBind(h.proc, fd2, 'd1'));
    await b.vdev.close();
  });

  test('closing the iommufd while a device is still bound does not fail; the VFIO close finishes it', async () => {
    const h = vfioHost([{ name: 'd0' }]);
    const ioas = await ioasWithMap(h.fd, buffer(h.proc));
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    await vfioAttach(d0.vdev, ioas);
    expect(h.proc.mm.counters.pinnedPages).toBeGreaterThan(0n);
    await expectOk(h.fd.close());
    // The bound device holds the ctx: its objects are all still there, the pages still pinned.
    expect(h.proc.mm.counters.pinnedPages).toBeGreaterThan(0n);
    await d0.vdev.close();
    await h.fd.file.closed;
    expect(h.proc.mm.counters.pinnedPages).toBe(0n);
    expect(h.fd.ctx.liveObjects()).toEqual([]);
    expect(await readAt(h, 'd0')).toBe('blocked');
  });
});

describe('DMA through the attached domain', () => {
  test('reads and writes reach the process bytes; unmapped, outside the aperture, read-only or detached fault', async () => {
    const h = vfioHost([{ name: 'd0' }]);
    const va = buffer(h.proc, 4n, 0);
    const ioas = await ioasWithMap(h.fd, va);
    const ro = h.proc.mmap(P, { shared: true });
    h.proc.write(ro, new Uint8Array(Number(P)).fill(0x5a));
    await ioasMap(h.fd, ioas, ro, P, A + 8n * P, IOMMU_IOAS_MAP_READABLE);
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    // Bound but not attached: blocked.
    expect((await dma(h, 'd0', 'read', A, 4)).ok).toBe(false);
    await vfioAttach(d0.vdev, ioas);

    const data = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    // Across a page boundary.
    const at = A + P - 100n;
    expect(await dma(h, 'd0', 'write', at, data.length, data)).toEqual({ ok: true });
    expect(h.proc.read(va + P - 100n, data.length)).toEqual(data);
    h.proc.write(va + 2n * P, Uint8Array.of(9, 8, 7));
    const r = await dma(h, 'd0', 'read', A + 2n * P, 3);
    expect(r.ok && [...r.data!]).toEqual([9, 8, 7]);

    expect(await readAt(h, 'd0', A + 4n * P)).toBe('not-present');
    expect(await readAt(h, 'd0', A - P)).toBe('aperture');
    expect(await readAt(h, 'd0', A + 8n * P)).toBe(0x5a);
    const w = await dma(h, 'd0', 'write', A + 8n * P, 1, Uint8Array.of(1));
    expect(w.ok ? 'ok' : w.fault.reason).toBe('permission');
    expect(h.proc.read(ro, 1)[0]).toBe(0x5a);
    // A faulting page aborts the whole transaction before memory is touched.
    const straddle = await dma(h, 'd0', 'write', A + 4n * P - 2n, 4, Uint8Array.of(1, 2, 3, 4));
    expect(straddle.ok).toBe(false);
    expect([...h.proc.read(va + 4n * P - 2n, 2)]).toEqual([0, 0]);

    await ioasUnmap(h.fd, ioas, A, 4n * P);
    expect(await readAt(h, 'd0', A + 2n * P)).toBe('not-present');
    await vfioDetach(d0.vdev);
    expect(await readAt(h, 'd0', A + 8n * P)).toBe('blocked');
    await d0.vdev.close();
  });

  test('a map made after the attach is visible to DMA; a failed map changes nothing', async () => {
    const h = vfioHost([{ name: 'd0' }]);
    const ioas = await ioasAlloc(h.fd);
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    await vfioAttach(d0.vdev, ioas);
    expect(await readAt(h, 'd0')).toBe('not-present');
    const va = buffer(h.proc, 2n, 0x3c);
    await ioasMap(h.fd, ioas, va, 2n * P, A);
    expect(await readAt(h, 'd0', A + P)).toBe(0x3c);
    // EEXIST over the existing area; the old translation stays.
    const vb = buffer(h.proc, 1n, 0x4d);
    await expectErrno('EEXIST', ioasMap(h.fd, ioas, vb, P, A + P));
    expect(await readAt(h, 'd0', A + P)).toBe(0x3c);
    // Outside the aperture the attached domain reserved: EINVAL, nothing mapped.
    await expectErrno('EINVAL', ioasMap(h.fd, ioas, vb, P, 0n));
    await d0.vdev.close();
  });
});

describe('HWPT_ALLOC across IOMMU instances (§2.10)', () => {
  test('a nest parent owned by another IOMMU instance → EINVAL; nothing is left behind', async () => {
    const h = vfioHost([{ name: 'd0' }]);
    const ioas = await ioasAlloc(h.fd);
    const d0 = await vfioBind(h.proc, h.fd, 'd0');
    const parent = await hwptAlloc(h.fd, d0.devId, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT);
    // A selftest mock device sits behind the host's own `mock` IOMMU, not m0.
    const md = await mockDomain(h.fd, ioas);
    const err = await expectErrno(
      'EINVAL',
      h.fd.ioctl('IOMMU_HWPT_ALLOC', {
        dev_id: md.idevId,
        pt_id: parent,
        data_type: 0xdead,
        data_len: 8,
        data_uptr: new Uint8Array(8),
      }),
    );
    expect(err.errno).toBe('EINVAL');
    expect(await ioasAlloc(h.fd)).toBe(md.hwptId + 1);
    await expectOk(destroy(h.fd, parent));
    await d0.vdev.close();
  });
});
