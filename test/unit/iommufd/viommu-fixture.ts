import type { StructLayout } from '../../../actors/iommufd/struct.ts';
import {
  createFarm,
  IOCTLS,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_TEST_IOTLB_DEFAULT,
  IOMMU_TEST_OP_MOCK_DOMAIN,
  IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  type IoctlName,
  type Iommufd,
  PROT_READ,
  type Process,
} from '../../../index.ts';

export interface MockDomain {
  stdevId: number;
  hwptId: number;
  idevId: number;
}

/** IOMMU_TEST_OP_MOCK_DOMAIN on `id`. */
export async function mockDomain(fd: Iommufd, id: number): Promise<MockDomain> {
  const out = await fd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_MOCK_DOMAIN, id });
  const md = out.mock_domain as { out_stdev_id: number; out_hwpt_id: number; out_idev_id: number };
  return { stdevId: md.out_stdev_id, hwptId: md.out_hwpt_id, idevId: md.out_idev_id };
}

/** IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: moves the stdev's RID to `ptId`. */
export function replace(fd: Iommufd, stdevId: number, ptId: number) {
  return fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
    id: stdevId,
    mock_domain_replace: { pt_id: ptId },
  });
}

export function destroy(fd: Iommufd, id: number) {
  return fd.ioctl('IOMMU_DESTROY', { id });
}

/** A fresh ctx with an IOAS (1) and a mock device (stdev 2, idev 3, auto hwpt 4). */
export async function ioasFixture() {
  const farm = createFarm({ seed: 1 });
  const host = farm.addHost({ name: 'h0', selftest: true });
  const proc: Process = host.spawnProcess({ name: 't' });
  const fd = proc.openIommufd();
  const { out_ioas_id } = await fd.ioctl('IOMMU_IOAS_ALLOC', {});
  const ioasId = out_ioas_id as number;
  const md = await mockDomain(fd, ioasId);
  return { farm, host, proc, fd, ioasId, ...md };
}

/**
 * The selftest's `iommufd_viommu` fixture: a nest-parent HWPT (5), a SELFTEST vIOMMU on it (6)
 * and a nested HWPT through the vIOMMU with iotlb IOMMU_TEST_IOTLB_DEFAULT (7).
 */
export async function viommuFixture() {
  const base = await ioasFixture();
  const { fd, ioasId, idevId } = base;
  const parent = await fd.ioctl('IOMMU_HWPT_ALLOC', {
    dev_id: idevId,
    pt_id: ioasId,
    flags: IOMMU_HWPT_ALLOC_NEST_PARENT,
  });
  const parentId = parent.out_hwpt_id as number;
  const v = await fd.ioctl('IOMMU_VIOMMU_ALLOC', {
    dev_id: idevId,
    hwpt_id: parentId,
    type: IOMMU_VIOMMU_TYPE_SELFTEST,
  });
  const viommuId = v.out_viommu_id as number;
  const nested = await fd.ioctl('IOMMU_HWPT_ALLOC', {
    dev_id: idevId,
    pt_id: viommuId,
    data_type: IOMMU_HWPT_DATA_SELFTEST,
    data_uptr: { iotlb: IOMMU_TEST_IOTLB_DEFAULT },
  });
  return { ...base, parentId, viommuId, nestedId: nested.out_hwpt_id as number };
}

/** The IDs the next allocation gets: proves a failure released what it took. */
export async function nextId(fd: Iommufd): Promise<number> {
  const { out_ioas_id } = await fd.ioctl('IOMMU_IOAS_ALLOC', {});
  await destroy(fd, out_ioas_id as number);
  return out_ioas_id as number;
}

/** Copies `bytes` to fresh user memory; `readOnly` memory can be read by the kernel but not written back. */
export function placeUser(proc: Process, bytes: Uint8Array, readOnly = false): bigint {
  const len = Math.max(4096, Math.ceil(bytes.length / 4096) * 4096);
  if (!readOnly) {
    const va = proc.mmap(len);
    proc.write(va, bytes);
    return va;
  }
  const mfd = proc.memfd(len);
  proc.write(proc.mmap(len, { fd: mfd, shared: true }), bytes);
  return proc.mmap(len, { fd: mfd, shared: true, prot: PROT_READ });
}

/**
 * An ioctl with every field as given (the typed call never sends `__reserved` fields), from
 * writable or read-only memory; resolves to the struct as the kernel left it.
 */
export async function rawIoctl<N extends IoctlName>(
  fd: Iommufd,
  name: N,
  fields: Record<string, unknown>,
  opts: { readOnly?: boolean } = {},
): Promise<Record<string, unknown>> {
  const layout = IOCTLS[name].layout as unknown as StructLayout<object>;
  const bytes = layout.encode({ size: layout.sizeof, ...fields } as never);
  const va = placeUser(fd.process, bytes, opts.readOnly);
  await fd.ioctlRaw(IOCTLS[name].cmd, va);
  return layout.decode(fd.process.read(va, layout.sizeof)) as Record<string, unknown>;
}
