/**
 * More of the selftest's iommufd_utils.h: the iommufd_ioas variants, thin typed wrappers for the
 * ioctls the catalogue uses, raw user-memory plumbing, and a snapshot of ctx state to prove that
 * a failed call changed nothing.
 */
import { afterEach, beforeEach, expect } from 'vitest';
import type { Ioas } from '../../../actors/iommufd/ioas.ts';
import {
  type Errno,
  IOCTLS,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_TEST_OP_ACCESS_PAGES,
  IOMMU_TEST_OP_ACCESS_RW,
  IOMMU_TEST_OP_ADD_RESERVED,
  IOMMU_TEST_OP_CREATE_ACCESS,
  IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
  IOMMU_TEST_OP_MD_CHECK_MAP,
  IOMMU_TEST_OP_MD_CHECK_REFS,
  type IoctlName,
  type Iommufd,
  MOCK_APERTURE_LAST,
  MOCK_APERTURE_START,
  MOCK_FLAGS_DEVICE_PASID,
  MOCK_PAGE_SIZE,
  type Process,
} from '../../../index.ts';
import { expectErrno } from './expect.ts';
import { closeAndCheck, type IoasFixture, ioasFixture, mockDomain, RW, type Selftest } from './fixture.ts';

const PAGE_SIZE_N = 4096n;
export const U64_MAX = (1n << 64n) - 1n;
/** 64-bit kernel: ULONG_MAX == SIZE_MAX == U64_MAX. */
export const ULONG_MAX = U64_MAX;
export const SIZE_MAX = U64_MAX;
export const APERTURE_START = BigInt(MOCK_APERTURE_START);
export const APERTURE_LAST = BigInt(MOCK_APERTURE_LAST);
export const MOCK_PGSIZE = BigInt(MOCK_PAGE_SIZE);

export type Range = { start: bigint; last: bigint };

/** FIXTURE_VARIANT(iommufd_ioas). */
export interface IoasVariant {
  readonly name: string;
  readonly mockDomains: number;
  readonly pasidCapable: boolean;
  readonly memoryLimit?: number;
}

export const IOAS_VARIANTS: readonly IoasVariant[] = [
  { name: 'no_domain', mockDomains: 0, pasidCapable: false },
  { name: 'mock_domain', mockDomains: 1, pasidCapable: true },
  { name: 'two_mock_domain', mockDomains: 2, pasidCapable: false },
  { name: 'mock_domain_limit', mockDomains: 1, pasidCapable: false, memoryLimit: 16 },
];

/** FIXTURE_DATA(iommufd_ioas): the IDs of the last mock device, 0 without one. */
export interface IoasSelf extends IoasFixture {
  readonly variant: IoasVariant;
  readonly stdevId: number;
  readonly hwptId: number;
  readonly deviceId: number;
  readonly devicePasidId: number;
}

/** FIXTURE_SETUP(iommufd_ioas), with the PASID-capable second device of the mock_domain variant. */
export async function setupIoas(variant: IoasVariant): Promise<IoasSelf> {
  const f = await ioasFixture({
    mockDomains: variant.mockDomains,
    ...(variant.memoryLimit === undefined ? {} : { memoryLimit: variant.memoryLimit }),
  });
  const last = f.domains[f.domains.length - 1];
  let devicePasidId = 0;
  if (variant.pasidCapable)
    devicePasidId = (await mockDomain(f.fd, f.ioasId, MOCK_FLAGS_DEVICE_PASID)).idevId;
  return {
    ...f,
    variant,
    stdevId: last?.stdevId ?? 0,
    hwptId: last?.hwptId ?? 0,
    deviceId: last?.idevId ?? 0,
    devicePasidId,
  };
}

/** Fresh user memory holding `bytes` (a struct or array a C program would have on its stack). */
export function place(proc: Process, bytes: Uint8Array, room = bytes.length): bigint {
  const va = proc.mmap(Math.max(room, bytes.length, 1));
  if (bytes.length > 0) proc.write(va, bytes);
  return va;
}

export function encodeRanges(ranges: readonly Range[]): Uint8Array {
  const out = new Uint8Array(ranges.length * 16);
  const dv = new DataView(out.buffer);
  ranges.forEach((r, i) => {
    dv.setBigUint64(i * 16, r.start, true);
    dv.setBigUint64(i * 16 + 8, r.last, true);
  });
  return out;
}

export function decodeRanges(bytes: Uint8Array): Range[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 16 }, (_, i) => ({
    start: dv.getBigUint64(i * 16, true),
    last: dv.getBigUint64(i * 16 + 8, true),
  }));
}

export async function ioasAlloc(fd: Iommufd): Promise<number> {
  return (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
}

export async function destroy(fd: Iommufd, id: number): Promise<void> {
  await fd.ioctl('IOMMU_DESTROY', { id });
}

/** IOMMU_IOAS_IOVA_RANGES with room for `room` entries: the holes, their count and the alignment. */
export async function iovaRanges(
  fd: Iommufd,
  ioasId: number,
  room = 64,
): Promise<{ ranges: Range[]; num: number; alignment: bigint }> {
  const out = await fd.ioctl('IOMMU_IOAS_IOVA_RANGES', { ioas_id: ioasId, num_iovas: room });
  return {
    ranges: out.allowed_iovas as Range[],
    num: out.num_iovas as number,
    alignment: out.out_iova_alignment as bigint,
  };
}

export async function allowIovas(fd: Iommufd, ioasId: number, ranges: readonly Range[]): Promise<void> {
  await fd.ioctl('IOMMU_IOAS_ALLOW_IOVAS', { ioas_id: ioasId, allowed_iovas: [...ranges] });
}

export async function addReserved(fd: Iommufd, ioasId: number, start: bigint, length: bigint): Promise<void> {
  await fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_ADD_RESERVED,
    id: ioasId,
    add_reserved: { start, length },
  });
}

/** `check_mock_iova`: every hwpt in `hwptIds` maps [iova, iova+length) to the pages behind `uptr`. */
export async function checkMockIova(
  fd: Iommufd,
  hwptIds: readonly number[],
  uptr: bigint,
  iova: bigint,
  length: bigint,
): Promise<void> {
  for (const id of hwptIds) {
    await fd.ioctl('IOMMU_TEST_CMD', {
      op: IOMMU_TEST_OP_MD_CHECK_MAP,
      id,
      check_map: { iova, length, uptr },
    });
  }
}

/** `check_refs`: IOMMU_TEST_OP_MD_CHECK_REFS over [uptr, uptr+length). */
export async function checkRefs(fd: Iommufd, uptr: bigint, length: bigint, refs: number): Promise<void> {
  await fd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_MD_CHECK_REFS, check_refs: { uptr, length, refs } });
}

export async function copy(
  fd: Iommufd,
  f: { flags?: number; dst: number; src: number; length: bigint; dstIova?: bigint; srcIova: bigint },
): Promise<bigint> {
  const out = await fd.ioctl('IOMMU_IOAS_COPY', {
    flags: f.flags ?? IOMMU_IOAS_MAP_FIXED_IOVA | RW,
    dst_ioas_id: f.dst,
    src_ioas_id: f.src,
    length: f.length,
    dst_iova: f.dstIova ?? 0n,
    src_iova: f.srcIova,
  });
  return out.dst_iova as bigint;
}

/** `test_ioctl_ioas_map_file` (auto IOVA) or its _fixed form. */
export async function mapFile(
  fd: Iommufd,
  ioasId: number,
  mfd: number,
  start: bigint,
  length: bigint,
  iova?: bigint,
): Promise<bigint> {
  const out = await fd.ioctl('IOMMU_IOAS_MAP_FILE', {
    flags: RW | (iova === undefined ? 0 : IOMMU_IOAS_MAP_FIXED_IOVA),
    ioas_id: ioasId,
    fd: mfd,
    start,
    length,
    iova: iova ?? 0n,
  });
  return out.iova as bigint;
}

export async function option(
  fd: Iommufd,
  f: { option_id: number; op: number; object_id?: number; val64?: bigint; __reserved?: number },
): Promise<bigint> {
  return (await fd.ioctl('IOMMU_OPTION', f)).val64 as bigint;
}

/** `test_cmd_create_access`: the access is an fd. */
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
  f: { iova: bigint; length: bigint; uptr: bigint; flags?: number },
): Promise<number> {
  const out = await fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_ACCESS_PAGES,
    id: accessFd,
    access_pages: { flags: f.flags ?? 0, iova: f.iova, length: f.length, uptr: f.uptr },
  });
  return (out.access_pages as { out_access_pages_id: number }).out_access_pages_id;
}

export async function destroyAccessPages(fd: Iommufd, accessFd: number, pagesId: number): Promise<void> {
  await fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
    id: accessFd,
    destroy_access_pages: { access_pages_id: pagesId },
  });
}

export async function accessRw(
  fd: Iommufd,
  accessFd: number,
  f: { iova: bigint; length: bigint; uptr: bigint; flags: number },
): Promise<void> {
  await fd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_ACCESS_RW, id: accessFd, access_rw: f });
}

/** Deterministic stand-in for the selftest's rand() (xorshift32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** `shuffle_array`, as the selftest does it, with `rand` in place of rand(). */
export function shuffle<T>(array: T[], rand: () => number): T[] {
  for (let i = 0; i < array.length; i++) {
    const other = rand() % (array.length - i);
    [array[i], array[other]] = [array[other]!, array[i]!];
  }
  return array;
}

/** What a failed call must leave alone: objects, the next free ID, each IOAS's IOVA state, pins. */
export interface StateSnapshot {
  readonly objects: string[];
  readonly nextId: number;
  readonly ioas: Record<number, unknown>;
  readonly pinned: bigint;
  readonly userLocked: bigint;
  readonly mmLocked: bigint;
}

function ioasState(fd: Iommufd, id: number) {
  const ioas = fd.ctx.objects.tryGet(id) as Ioas | undefined;
  if (ioas?.type !== 'IOAS') return 'gone';
  const iopt = ioas.iopt;
  return {
    areas: [...iopt.areas.all()].map((n) => `${n.start}-${n.last}/${n.value.pageOffset}/${n.value.prot}`),
    reserved: [...iopt.reserved.all()].map((n) => `${n.start}-${n.last}`),
    allowed: [...iopt.allowed.all()].map((n) => `${n.start}-${n.last}`),
    domains: iopt.domains.length,
    alignment: iopt.iovaAlignment,
    disableLargePages: iopt.disableLargePages,
  };
}

export async function snapshot(st: Selftest, ioasIds: readonly number[]): Promise<StateSnapshot> {
  const objects = st.fd.ctx.liveObjects().map((o) => `${o.type}#${o.id}/users=${o.users}`);
  const ioas: Record<number, unknown> = {};
  for (const id of ioasIds) {
    const state = ioasState(st.fd, id);
    ioas[id] = state === 'gone' ? state : { ...state, rangesOut: await iovaRanges(st.fd, id) };
  }
  // The lowest free ID: a probe that leaves the table as it found it.
  const nextId = await ioasAlloc(st.fd);
  await destroy(st.fd, nextId);
  return {
    objects,
    nextId,
    ioas,
    pinned: st.proc.mm.counters.pinnedPages,
    userLocked: st.proc.user.lockedPages,
    mmLocked: st.proc.mm.counters.lockedPages,
  };
}

/** The call fails with `errno`, and objects, IDs, IOVA state and pinned pages are exactly as before. */
export async function expectErrnoUnchanged(
  st: Selftest,
  ioasIds: readonly number[],
  errno: Errno,
  call: () => Promise<unknown>,
): Promise<void> {
  const before = await snapshot(st, ioasIds);
  await expectErrno(errno, call);
  expect(await snapshot(st, ioasIds)).toEqual(before);
}

/** FIXTURE_SETUP/TEARDOWN(iommufd_ioas) as vitest hooks; call inside a describe, read `self()` in tests. */
export function useIoasFixture(variant: IoasVariant): () => IoasSelf {
  let self: IoasSelf | undefined;
  beforeEach(async () => {
    self = await setupIoas(variant);
  });
  afterEach(async () => {
    const st = self;
    self = undefined;
    if (st) await closeAndCheck(st);
  });
  return () => self ?? expect.fail('fixture not set up');
}

/**
 * A raw call with every field under the caller's control (the typed API drops `__`-prefixed fields,
 * so `__reserved` can only be set this way). Resolves to the struct as the kernel left it.
 */
export async function rawCall<N extends IoctlName>(
  fd: Iommufd,
  name: N,
  fields: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const entry = IOCTLS[name];
  const layout = entry.layout as unknown as {
    sizeof: number;
    encode(v: object): Uint8Array;
    decode(b: Uint8Array): object;
  };
  const va = place(fd.process, layout.encode({ size: layout.sizeof, ...fields }));
  try {
    await fd.ioctlRaw(entry.cmd, va);
    return layout.decode(fd.process.read(va, layout.sizeof)) as Record<string, unknown>;
  } finally {
    fd.process.munmap(va, layout.sizeof);
  }
}

/** A VA with `room` readable bytes before a PROT_NONE guard page (a hole nothing else will reuse). */
export function beforeGuardPage(proc: Process, room: bigint): bigint {
  const va = proc.mmap(2n * PAGE_SIZE_N);
  proc.mmap(PAGE_SIZE_N, { fixed: va + PAGE_SIZE_N, prot: 0 });
  return va + PAGE_SIZE_N - room;
}
