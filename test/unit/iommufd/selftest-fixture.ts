/**
 * Fixtures for the access / dirty / option / VFIO-compat tests: the selftest's `iommufd` and
 * `iommufd_ioas` setups and `test_cmd_*` wrappers (iommufd_utils.h), on a selftest host.
 */
import { expect } from 'vitest';
import {
  createFarm,
  type Host,
  IOCTLS,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_TEST_OP_ACCESS_PAGES,
  IOMMU_TEST_OP_CREATE_ACCESS,
  IOMMU_TEST_OP_MD_CHECK_MAP,
  IOMMU_TEST_OP_MD_CHECK_REFS,
  IOMMU_TEST_OP_MOCK_DOMAIN,
  type IoctlName,
  type Iommufd,
  type IommufdError,
  type Process,
  type ProcessOptions,
} from '../../../index.ts';

export const P = 4096n;
/** The selftest's BUFFER_SIZE. */
export const B = 16n * P;
export const MOCK_APERTURE_START = 1n << 24n;
export const MOCK_APERTURE_LAST = (1n << 31n) - 1n;
export const MAP_RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

export interface Self {
  host: Host;
  proc: Process;
  fd: Iommufd;
  ioasId: number;
  /** 0 without a mock domain. */
  stdevId: number;
  hwptId: number;
  idevId: number;
  /** A 2 MiB aligned, B-byte, filled buffer (the selftest's `buffer`). */
  buffer: bigint;
}

export async function setup(
  opts: { mockDomain?: boolean; proc?: Partial<ProcessOptions>; ioas?: boolean } = {},
): Promise<Self> {
  const farm = createFarm({ seed: 1 });
  const host = farm.addHost({ name: 'h0', selftest: true });
  const proc = host.spawnProcess({ name: 't', ...opts.proc });
  const fd = proc.openIommufd();
  const buffer = proc.mmap(B, { align: 1n << 21n, shared: true });
  proc.write(buffer, pattern(Number(B), 7));
  const self: Self = { host, proc, fd, ioasId: 0, stdevId: 0, hwptId: 0, idevId: 0, buffer };
  if (opts.ioas === false) return self;
  self.ioasId = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
  if (opts.mockDomain) Object.assign(self, await mockDomain(fd, self.ioasId));
  return self;
}

export async function mockDomain(fd: Iommufd, id: number) {
  const out = await fd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_MOCK_DOMAIN, id });
  const md = out.mock_domain as { out_stdev_id: number; out_hwpt_id: number; out_idev_id: number };
  return { stdevId: md.out_stdev_id, hwptId: md.out_hwpt_id, idevId: md.out_idev_id };
}

/** Deterministic bytes, different per seed. */
export function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return out;
}

export async function mapFixed(fd: Iommufd, ioasId: number, va: bigint, length: bigint, iova: bigint) {
  const flags = MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA;
  await fd.ioctl('IOMMU_IOAS_MAP', { flags, ioas_id: ioasId, user_va: va, length, iova });
}

export async function map(fd: Iommufd, ioasId: number, va: bigint, length: bigint): Promise<bigint> {
  return (await fd.ioctl('IOMMU_IOAS_MAP', { flags: MAP_RW, ioas_id: ioasId, user_va: va, length }))
    .iova as bigint;
}

export async function createAccess(fd: Iommufd, ioasId: number, flags: number): Promise<number> {
  const out = await fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_CREATE_ACCESS,
    id: ioasId,
    create_access: { flags },
  });
  return (out.create_access as { out_access_fd: number }).out_access_fd;
}

export async function accessPages(
  fd: Iommufd,
  accessFd: number,
  iova: bigint,
  length: bigint,
  uptr: bigint,
  flags = 0,
): Promise<number> {
  const out = await fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_ACCESS_PAGES,
    id: accessFd,
    access_pages: { flags, iova, length, uptr },
  });
  return (out.access_pages as { out_access_pages_id: number }).out_access_pages_id;
}

export function checkRefs(fd: Iommufd, uptr: bigint, length: bigint, refs: number) {
  return fd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_MD_CHECK_REFS, check_refs: { uptr, length, refs } });
}

export function checkMap(fd: Iommufd, hwptId: number, iova: bigint, length: bigint, uptr: bigint) {
  return fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_MD_CHECK_MAP,
    id: hwptId,
    check_map: { iova, length, uptr },
  });
}

export async function expectErrno(errno: string, p: Promise<unknown>): Promise<IommufdError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught).toMatchObject({ errno });
  return caught as IommufdError;
}

/** The selftest's teardown: close, then a fresh fd sees no page of `buffer` pinned. */
export async function teardown(self: Self): Promise<void> {
  await self.fd.close();
  const fd = self.proc.openIommufd();
  await checkRefs(fd, self.buffer, B, 0);
  await fd.close();
}

/** Encodes `fields` (any of them, `__reserved` included) as struct `name` in fresh user memory. */
export function placeStruct<N extends IoctlName>(
  fd: Iommufd,
  name: N,
  fields: Record<string, unknown>,
): bigint {
  const { layout } = IOCTLS[name];
  const va = fd.process.mmap(P);
  fd.process.write(va, layout.encode({ size: layout.sizeof, ...fields } as never));
  return va;
}

export function readStruct<N extends IoctlName>(fd: Iommufd, name: N, va: bigint): Record<string, unknown> {
  const { layout } = IOCTLS[name];
  return layout.decode(fd.process.read(va, layout.sizeof)) as Record<string, unknown>;
}

/**
 * A raw call with every field under the caller's control (`__reserved` included, which typed
 * calls never send); resolves to the return value and the struct as the kernel left it.
 */
export async function rawIoctl<N extends IoctlName>(
  fd: Iommufd,
  name: N,
  fields: Record<string, unknown>,
): Promise<{ ret: number; out: Record<string, unknown> }> {
  const va = placeStruct(fd, name, fields);
  const ret = await fd.ioctlRaw(IOCTLS[name].cmd, va);
  return { ret, out: readStruct(fd, name, va) };
}
