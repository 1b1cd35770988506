/**
 * Helpers for the nested / vIOMMU / PASID / device-group conformance tests: the selftest's
 * `test_cmd_*` wrappers from iommufd_utils.h and the fixtures iommufd_ioas (with its PASID
 * device), iommufd_viommu and iommufd_device_pasid, plus a VFIO cdev host builder.
 */
import { expect } from 'vitest';
import {
  type AddDeviceOptions,
  createFarm,
  type Farm,
  type Host,
  IOCTLS,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
  IOMMU_PGFAULT_PERM_READ,
  IOMMU_PGFAULT_PERM_WRITE,
  IOMMU_TEST_IOTLB_DEFAULT,
  IOMMU_TEST_OP_DEV_CHECK_CACHE,
  IOMMU_TEST_OP_MD_CHECK_IOTLB,
  IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
  IOMMU_TEST_OP_PASID_ATTACH,
  IOMMU_TEST_OP_PASID_CHECK_HWPT,
  IOMMU_TEST_OP_PASID_DETACH,
  IOMMU_TEST_OP_PASID_REPLACE,
  IOMMU_TEST_OP_TRIGGER_IOPF,
  IOMMU_TEST_OP_TRIGGER_VEVENT,
  IOMMU_VEVENTQ_FLAG_LOST_EVENTS,
  IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  IOMMUFD_PAGE_RESP_SUCCESS,
  type IoctlName,
  type Iommufd,
  IommufdError,
  iommu_hwpt_invalidate_selftest,
  iommu_hwpt_page_response,
  iommu_hwpt_pgfault,
  iommu_hwpt_selftest,
  iommu_viommu_invalidate_selftest,
  iommufd_vevent_header,
  MOCK_DEV_CACHE_NUM,
  MOCK_FLAGS_DEVICE_PASID,
  MOCK_NESTED_DOMAIN_IOTLB_NUM,
  type Process,
  type TestCmdInput,
  VFIO_DEVICE_ATTACH_PASID,
  VFIO_DEVICE_DETACH_PASID,
  type VfioDevice,
} from '../../../index.ts';
import { type IoasFixture, ioasFixture, mockDomain, openSelftest, type Selftest } from './fixture.ts';

/** Linux poll bits. */
export const POLLIN = 1;
export const POLLOUT = 4;

const num = (v: unknown) => v as number;

/** `struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT }`. */
export function selftestData(iotlb = IOMMU_TEST_IOTLB_DEFAULT): Uint8Array {
  return iommu_hwpt_selftest.encode({ iotlb });
}

/** Copies `bytes` into fresh process memory (as a C stack/heap array would be) and returns the VA. */
export function placeUser(proc: Process, bytes: Uint8Array): bigint {
  const len = Math.max(4096, Math.ceil(bytes.length / 4096) * 4096);
  const va = proc.mmap(len);
  if (bytes.length > 0) proc.write(va, bytes);
  return va;
}

export function destroy(fd: Iommufd, id: number): Promise<unknown> {
  return fd.ioctl('IOMMU_DESTROY', { id });
}

/** `test_cmd_hwpt_alloc`: no driver data. */
export async function hwptAlloc(
  fd: Iommufd,
  devId: number,
  ptId: number,
  flags = 0,
  faultId = 0,
): Promise<number> {
  const out = await fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: devId, pt_id: ptId, flags, fault_id: faultId });
  return num(out.out_hwpt_id);
}

export interface NestedAllocOpts {
  readonly dataType?: number;
  /** The data bytes (placed in process memory) or a raw user pointer (0n = NULL). */
  readonly data?: Uint8Array | bigint;
  readonly dataLen?: number;
  readonly faultId?: number;
}

/** `test_cmd_hwpt_alloc_nested` / `test_cmd_hwpt_alloc_iopf`: SELFTEST data by default. */
export async function hwptAllocNested(
  fd: Iommufd,
  devId: number,
  ptId: number,
  flags: number,
  opts: NestedAllocOpts = {},
): Promise<number> {
  const data = opts.data ?? selftestData();
  const dataLen = opts.dataLen ?? (data instanceof Uint8Array ? data.length : 8);
  const uptr = data instanceof Uint8Array ? placeUser(fd.process, data) : data;
  const out = await fd.ioctl('IOMMU_HWPT_ALLOC', {
    dev_id: devId,
    pt_id: ptId,
    flags,
    data_type: opts.dataType ?? IOMMU_HWPT_DATA_SELFTEST,
    data_len: dataLen,
    data_uptr: uptr,
    fault_id: opts.faultId ?? 0,
  });
  return num(out.out_hwpt_id);
}

/** `test_cmd_mock_domain_replace`: resolves to the hwpt ID now in use. */
export async function mockDomainReplace(fd: Iommufd, stdevId: number, ptId: number): Promise<number> {
  const out = await fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
    id: stdevId,
    mock_domain_replace: { pt_id: ptId },
  });
  return num((out.mock_domain_replace as { pt_id: number }).pt_id);
}

export function checkIotlb(fd: Iommufd, hwptId: number, iotlbId: number, expected: number): Promise<unknown> {
  return fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_MD_CHECK_IOTLB,
    id: hwptId,
    check_iotlb: { id: iotlbId, iotlb: expected },
  });
}

/** `test_cmd_hwpt_check_iotlb_all`. */
export async function checkIotlbAll(fd: Iommufd, hwptId: number, expected: number): Promise<void> {
  for (let i = 0; i < MOCK_NESTED_DOMAIN_IOTLB_NUM; i++) await checkIotlb(fd, hwptId, i, expected);
}

export function devCheckCache(
  fd: Iommufd,
  devId: number,
  cacheId: number,
  expected: number,
): Promise<unknown> {
  return fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_DEV_CHECK_CACHE,
    id: devId,
    check_dev_cache: { id: cacheId, cache: expected },
  });
}

/** `test_cmd_dev_check_cache_all`. */
export async function devCheckCacheAll(fd: Iommufd, devId: number, expected: number): Promise<void> {
  for (let i = 0; i < MOCK_DEV_CACHE_NUM; i++) await devCheckCache(fd, devId, i, expected);
}

/** A C array of `struct iommu_hwpt_invalidate_selftest`, contiguous. */
export function hwptInvReqs(reqs: ReadonlyArray<{ flags?: number; iotlb_id?: number }>): Uint8Array {
  const size = iommu_hwpt_invalidate_selftest.sizeof;
  const out = new Uint8Array(size * reqs.length);
  reqs.forEach((r, i) => {
    out.set(iommu_hwpt_invalidate_selftest.encode(r), i * size);
  });
  return out;
}

/** A C array of `struct iommu_viommu_invalidate_selftest`, contiguous. */
export function viommuInvReqs(
  reqs: ReadonlyArray<{ flags?: number; vdev_id?: number; cache_id?: number }>,
): Uint8Array {
  const size = iommu_viommu_invalidate_selftest.sizeof;
  const out = new Uint8Array(size * reqs.length);
  reqs.forEach((r, i) => {
    out.set(iommu_viommu_invalidate_selftest.encode(r), i * size);
  });
  return out;
}

export interface InvalidateArgs {
  readonly id: number;
  /** The request array (placed in process memory), or a raw pointer (0n = NULL). */
  readonly reqs: Uint8Array | bigint;
  readonly dataType?: number;
  readonly entryLen: number;
  readonly entryNum: number;
}

/**
 * `test_cmd_hwpt_invalidate` / `test_cmd_viommu_invalidate`: resolves to the `entry_num` written
 * back. On failure the IommufdError's `out.entry_num` carries it.
 */
export async function invalidate(fd: Iommufd, a: InvalidateArgs, viommu = false): Promise<number> {
  const uptr = a.reqs instanceof Uint8Array ? placeUser(fd.process, a.reqs) : a.reqs;
  const out = await fd.ioctl('IOMMU_HWPT_INVALIDATE', {
    hwpt_id: a.id,
    data_uptr: uptr,
    data_type:
      a.dataType ?? (viommu ? IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST : IOMMU_HWPT_INVALIDATE_DATA_SELFTEST),
    entry_len: a.entryLen,
    entry_num: a.entryNum,
  });
  return num(out.entry_num);
}

export function faultAlloc(fd: Iommufd, flags = 0): Promise<{ faultId: number; faultFd: number }> {
  return fd
    .ioctl('IOMMU_FAULT_QUEUE_ALLOC', { flags })
    .then((o) => ({ faultId: num(o.out_fault_id), faultFd: num(o.out_fault_fd) }));
}

export async function viommuAlloc(
  fd: Iommufd,
  devId: number,
  hwptId: number,
  type: number,
  data?: Uint8Array,
): Promise<{ viommuId: number; data?: Uint8Array }> {
  const out = await fd.ioctl('IOMMU_VIOMMU_ALLOC', {
    dev_id: devId,
    hwpt_id: hwptId,
    type,
    ...(data ? { data_uptr: data, data_len: data.length } : { data_uptr: 0n, data_len: 0 }),
  });
  return { viommuId: num(out.out_viommu_id), ...(out.data ? { data: out.data as Uint8Array } : {}) };
}

export async function vdeviceAlloc(
  fd: Iommufd,
  viommuId: number,
  devId: number,
  virtId: bigint,
): Promise<number> {
  const out = await fd.ioctl('IOMMU_VDEVICE_ALLOC', { viommu_id: viommuId, dev_id: devId, virt_id: virtId });
  return num(out.out_vdevice_id);
}

/** `test_cmd_veventq_alloc` uses depth 2. */
export async function veventqAlloc(
  fd: Iommufd,
  viommuId: number,
  type: number,
  depth = 2,
): Promise<{ veventqId: number; veventqFd: number }> {
  const out = await fd.ioctl('IOMMU_VEVENTQ_ALLOC', { viommu_id: viommuId, type, veventq_depth: depth });
  return { veventqId: num(out.out_veventq_id), veventqFd: num(out.out_veventq_fd) };
}

export async function hwQueueAlloc(
  fd: Iommufd,
  viommuId: number,
  type: number,
  index: number,
  iova: bigint,
  length: bigint,
): Promise<number> {
  const out = await fd.ioctl('IOMMU_HW_QUEUE_ALLOC', {
    viommu_id: viommuId,
    type,
    index,
    nesting_parent_iova: iova,
    length,
  });
  return num(out.out_hw_queue_id);
}

export type PgFault = ReturnType<typeof iommu_hwpt_pgfault.decode>;

/**
 * `_test_cmd_trigger_iopf`: TRIGGER_IOPF(grpid 2, R|W, 0xdeadbeaf), read one fault message,
 * answer it SUCCESS. Resolves to the message read.
 */
export async function triggerIopf(fd: Iommufd, devId: number, faultFd: number, pasid = 1): Promise<PgFault> {
  await fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_TRIGGER_IOPF,
    trigger_iopf: {
      dev_id: devId,
      pasid,
      grpid: 2,
      perm: IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE,
      addr: 0xdeadbeafn,
    },
  });
  const file = fd.process.file(faultFd);
  const bytes = file.read(iommu_hwpt_pgfault.sizeof);
  expect(bytes.length, 'read() of the fault fd').toBe(iommu_hwpt_pgfault.sizeof);
  const fault = iommu_hwpt_pgfault.decode(bytes);
  const resp = iommu_hwpt_page_response.encode({ cookie: fault.cookie, code: IOMMUFD_PAGE_RESP_SUCCESS });
  expect(file.write(resp), 'write() of the response').toBe(resp.length);
  return fault;
}

/** `test_cmd_trigger_vevents`. */
export async function triggerVevents(fd: Iommufd, devId: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await fd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_TRIGGER_VEVENT, trigger_vevent: { dev_id: devId } });
  }
}

export interface VeventRecord {
  readonly flags: number;
  readonly sequence: number;
  /** The selftest payload; absent on a LOST_EVENTS header. */
  readonly virtId?: number;
}

/** Parses whole selftest vEVENT records (8-byte header, 4-byte virt_id payload). */
export function parseVevents(bytes: Uint8Array): VeventRecord[] {
  const out: VeventRecord[] = [];
  let off = 0;
  while (off < bytes.length) {
    const hdr = iommufd_vevent_header.decode(bytes.subarray(off, off + 8));
    off += 8;
    if (hdr.flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS) {
      out.push({ flags: hdr.flags, sequence: hdr.sequence });
      continue;
    }
    const virtId = new DataView(bytes.buffer, bytes.byteOffset + off, 4).getUint32(0, true);
    off += 4;
    out.push({ flags: hdr.flags, sequence: hdr.sequence, virtId });
  }
  return out;
}

function pasidCmd(fd: Iommufd, op: number, stdevId: number, member: string, fields: object) {
  // The op and its member travel together as arguments, which the per-op input type cannot follow.
  return fd.ioctl('IOMMU_TEST_CMD', { op, id: stdevId, [member]: fields } as TestCmdInput);
}

export const pasidAttach = (fd: Iommufd, stdevId: number, pasid: number, ptId: number) =>
  pasidCmd(fd, IOMMU_TEST_OP_PASID_ATTACH, stdevId, 'pasid_attach', { pasid, pt_id: ptId });
export const pasidReplace = (fd: Iommufd, stdevId: number, pasid: number, ptId: number) =>
  pasidCmd(fd, IOMMU_TEST_OP_PASID_REPLACE, stdevId, 'pasid_replace', { pasid, pt_id: ptId });
export const pasidDetach = (fd: Iommufd, stdevId: number, pasid: number) =>
  pasidCmd(fd, IOMMU_TEST_OP_PASID_DETACH, stdevId, 'pasid_detach', { pasid });
export const pasidCheckHwpt = (fd: Iommufd, stdevId: number, pasid: number, hwptId: number) =>
  pasidCmd(fd, IOMMU_TEST_OP_PASID_CHECK_HWPT, stdevId, 'pasid_check', { pasid, hwpt_id: hwptId });

// ---------------------------------------------------------------------------------------------
// Fixtures

/** FIXTURE_VARIANT(iommufd_ioas). */
export interface IoasVariant {
  readonly name: string;
  readonly mockDomains: number;
  readonly memoryLimit?: number;
  readonly pasidCapable?: boolean;
}

export const IOAS_VARIANTS: readonly IoasVariant[] = [
  { name: 'no_domain', mockDomains: 0 },
  { name: 'mock_domain', mockDomains: 1, pasidCapable: true },
  { name: 'two_mock_domain', mockDomains: 2 },
  { name: 'mock_domain_limit', mockDomains: 1, memoryLimit: 16 },
];

/** The iommufd_ioas fixture's `self`: the last mock device's IDs, 0 without one. */
export interface IoasSelf extends IoasFixture {
  readonly stdevId: number;
  readonly hwptId: number;
  readonly deviceId: number;
  readonly devicePasidId: number;
}

export async function ioasSelf(variant: IoasVariant): Promise<IoasSelf> {
  const f = await ioasFixture({
    mockDomains: variant.mockDomains,
    ...(variant.memoryLimit === undefined ? {} : { memoryLimit: variant.memoryLimit }),
  });
  const last = f.domains.at(-1);
  const devicePasidId = variant.pasidCapable
    ? (await mockDomain(f.fd, f.ioasId, MOCK_FLAGS_DEVICE_PASID)).idevId
    : 0;
  return {
    ...f,
    stdevId: last?.stdevId ?? 0,
    hwptId: last?.hwptId ?? 0,
    deviceId: last?.idevId ?? 0,
    devicePasidId,
  };
}

export const VIOMMU_VARIANTS = [
  { name: 'no_viommu', viommu: false },
  { name: 'mock_viommu', viommu: true },
] as const;

/** FIXTURE(iommufd_viommu): every ID is 0 in the no_viommu variant. */
export interface ViommuSelf extends Selftest {
  readonly ioasId: number;
  readonly stdevId: number;
  readonly deviceId: number;
  readonly hwptId: number;
  readonly viommuId: number;
  readonly nestedHwptId: number;
}

export async function viommuSelf(variant: { viommu: boolean }): Promise<ViommuSelf> {
  const st = openSelftest();
  const ioasId = num((await st.fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id);
  if (!variant.viommu)
    return { ...st, ioasId, stdevId: 0, deviceId: 0, hwptId: 0, viommuId: 0, nestedHwptId: 0 };
  const md = await mockDomain(st.fd, ioasId);
  const hwptId = await hwptAlloc(st.fd, md.idevId, ioasId, IOMMU_HWPT_ALLOC_NEST_PARENT);
  const { viommuId } = await viommuAlloc(st.fd, md.idevId, hwptId, IOMMU_VIOMMU_TYPE_SELFTEST);
  const nestedHwptId = await hwptAllocNested(st.fd, md.idevId, viommuId, 0);
  return { ...st, ioasId, stdevId: md.stdevId, deviceId: md.idevId, hwptId, viommuId, nestedHwptId };
}

export const PASID_VARIANTS = [
  { name: 'no_pasid', pasidCapable: false },
  { name: 'has_pasid', pasidCapable: true },
] as const;

/** FIXTURE(iommufd_device_pasid). */
export interface DevicePasidSelf extends Selftest {
  readonly ioasId: number;
  readonly stdevId: number;
  readonly hwptId: number;
  readonly deviceId: number;
  readonly noPasidStdevId: number;
  readonly noPasidDeviceId: number;
}

export async function devicePasidSelf(variant: { pasidCapable: boolean }): Promise<DevicePasidSelf> {
  const st = openSelftest();
  const ioasId = num((await st.fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id);
  const dev = await mockDomain(st.fd, ioasId, MOCK_FLAGS_DEVICE_PASID);
  const noPasid = variant.pasidCapable ? undefined : await mockDomain(st.fd, ioasId, 0);
  return {
    ...st,
    ioasId,
    stdevId: dev.stdevId,
    hwptId: dev.hwptId,
    deviceId: dev.idevId,
    noPasidStdevId: noPasid?.stdevId ?? 0,
    noPasidDeviceId: noPasid?.idevId ?? 0,
  };
}

// ---------------------------------------------------------------------------------------------
// VFIO cdev hosts

export interface VfioHost {
  readonly farm: Farm;
  readonly host: Host;
  readonly proc: Process;
  readonly fd: Iommufd;
}

/**
 * A selftest host (so the mock vIOMMU and IOMMU_TEST_CMD exist) with a second mock IOMMU `m0`
 * and the given devices on it.
 */
export function vfioHost(
  devices: ReadonlyArray<Omit<AddDeviceOptions, 'iommu'> & { iommu?: string }>,
): VfioHost {
  const farm = createFarm({ seed: 7 });
  const host = farm.addHost({ name: 'h0', selftest: true });
  host.addIommu({ name: 'm0', vendor: 'mock' });
  for (const d of devices) host.addDevice({ iommu: 'm0', ...d });
  const proc = host.spawnProcess({ name: 'vmm' });
  return { farm, host, proc, fd: proc.openIommufd() };
}

/** Opens the cdev and binds it: resolves to the handle and the DEVICE object ID. */
export async function vfioBind(
  proc: Process,
  fd: Iommufd,
  name: string,
): Promise<{ vdev: VfioDevice; devId: number }> {
  const vdev = proc.openVfioDevice(name);
  const out = await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
  return { vdev, devId: num(out.out_devid) };
}

export async function vfioAttach(vdev: VfioDevice, ptId: number, pasid?: number): Promise<number> {
  const out = await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', {
    flags: pasid === undefined ? 0 : VFIO_DEVICE_ATTACH_PASID,
    pt_id: ptId,
    pasid: pasid ?? 0,
  });
  return num(out.pt_id);
}

export function vfioDetach(vdev: VfioDevice, pasid?: number): Promise<unknown> {
  return vdev.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {
    flags: pasid === undefined ? 0 : VFIO_DEVICE_DETACH_PASID,
    pasid: pasid ?? 0,
  });
}

/** IOMMU_IOAS_ALLOC: with IDs lowest-free, the ID it gets shows which IDs are taken. */
export async function ioasAlloc(fd: Iommufd): Promise<number> {
  return num((await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id);
}

/**
 * An ioctl through the raw path with every field settable (the typed call drops `__reserved`):
 * resolves to the struct as the kernel left it in user memory; rejects with the errno, `out`
 * then holding the struct as the kernel left it.
 */
export async function rawIoctl<N extends IoctlName>(
  fd: Iommufd,
  name: N,
  fields: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const { cmd, layout } = IOCTLS[name];
  const bytes = (layout as { encode(v: object): Uint8Array }).encode({ size: layout.sizeof, ...fields });
  const va = placeUser(fd.process, bytes);
  const readBack = () =>
    (layout as { decode(b: Uint8Array): Record<string, unknown> }).decode(fd.process.read(va, layout.sizeof));
  try {
    await fd.ioctlRaw(cmd, va);
  } catch (err) {
    // What the kernel copied back before failing, as the selftest reads it from its struct.
    if (IommufdError.is(err)) err.out = readBack() as Record<string, number | bigint>;
    throw err;
  }
  return readBack();
}
