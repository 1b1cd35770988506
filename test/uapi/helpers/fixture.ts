import {
  createFarm,
  type Farm,
  type Host,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_TEST_OP_MOCK_DOMAIN,
  IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
  IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
  type Iommufd,
  MOCK_APERTURE_START,
  type Process,
} from '../../../index.ts';

/** The selftest's PAGE_SIZE and BUFFER_SIZE (16 pages). */
export const PAGE_SIZE = 4096n;
export const BUFFER_SIZE = 16n * PAGE_SIZE;
export const HUGEPAGE_SIZE = 2n * 1024n * 1024n;
export const RW = IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;

/** The `iommufd` fixture: a selftest host, a root process, an open /dev/iommu and the 2 MiB-aligned buffer. */
export interface Selftest {
  readonly farm: Farm;
  readonly host: Host;
  readonly proc: Process;
  readonly fd: Iommufd;
  /** BUFFER_SIZE bytes, MAP_SHARED|MAP_ANONYMOUS, aligned to HUGEPAGE_SIZE. */
  readonly buffer: bigint;
}

export function openSelftest(
  opts: { seed?: number; bufferSize?: bigint; memlockLimit?: bigint } = {},
): Selftest {
  const farm = createFarm({ seed: opts.seed ?? 1 });
  const host = farm.addHost({ name: 'h0', selftest: true });
  const proc = host.spawnProcess({
    name: 'selftest',
    ...(opts.memlockLimit === undefined ? {} : { memlockLimit: opts.memlockLimit }),
  });
  const fd = proc.openIommufd();
  const buffer = proc.mmap(opts.bufferSize ?? BUFFER_SIZE, { align: HUGEPAGE_SIZE, shared: true });
  // The selftest writes the buffer before using it, so its pages exist.
  proc.write(buffer, new Uint8Array(Number(opts.bufferSize ?? BUFFER_SIZE)).fill(0xa5));
  return { farm, host, proc, fd, buffer };
}

/** One mock device: `test_cmd_mock_domain` outputs. */
export interface MockDomain {
  readonly stdevId: number;
  readonly hwptId: number;
  readonly idevId: number;
}

export async function mockDomain(fd: Iommufd, id: number, devFlags?: number): Promise<MockDomain> {
  if (devFlags === undefined) {
    const out = await fd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_MOCK_DOMAIN, id });
    const m = out.mock_domain as { out_stdev_id: number; out_hwpt_id: number; out_idev_id: number };
    return { stdevId: m.out_stdev_id, hwptId: m.out_hwpt_id, idevId: m.out_idev_id };
  }
  const out = await fd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
    id,
    mock_domain_flags: { dev_flags: devFlags },
  });
  const m = out.mock_domain_flags as { out_stdev_id: number; out_hwpt_id: number; out_idev_id: number };
  return { stdevId: m.out_stdev_id, hwptId: m.out_hwpt_id, idevId: m.out_idev_id };
}

/** The `iommufd_ioas` fixture: an IOAS, the temp memory limit, `mockDomains` mock devices on it. */
export interface IoasFixture extends Selftest {
  readonly ioasId: number;
  readonly domains: MockDomain[];
  /** MOCK_APERTURE_START with a domain, else 0, as the selftest's `self->base_iova`. */
  readonly baseIova: bigint;
}

export async function ioasFixture(variant: {
  mockDomains: number;
  memoryLimit?: number;
  seed?: number;
}): Promise<IoasFixture> {
  const st = openSelftest(variant.seed === undefined ? {} : { seed: variant.seed });
  const { out_ioas_id } = await st.fd.ioctl('IOMMU_IOAS_ALLOC', {});
  const ioasId = out_ioas_id as number;
  await st.fd
    .ioctl('IOMMU_TEST_CMD', {
      op: IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
      id: ioasId,
      memory_limit: { limit: variant.memoryLimit ?? 65536 },
    })
    .catch(() => undefined);
  const domains: MockDomain[] = [];
  for (let i = 0; i < variant.mockDomains; i++) domains.push(await mockDomain(st.fd, ioasId));
  return { ...st, ioasId, domains, baseIova: variant.mockDomains > 0 ? BigInt(MOCK_APERTURE_START) : 0n };
}

/** `test_ioctl_ioas_map` (auto IOVA) or `test_ioctl_ioas_map_fixed` (with `iova`); resolves to the IOVA. */
export async function ioasMap(
  fd: Iommufd,
  ioasId: number,
  userVa: bigint,
  length: bigint,
  iova?: bigint,
  flags = RW,
): Promise<bigint> {
  const out = await fd.ioctl('IOMMU_IOAS_MAP', {
    flags: flags | (iova === undefined ? 0 : IOMMU_IOAS_MAP_FIXED_IOVA),
    ioas_id: ioasId,
    user_va: userVa,
    length,
    iova: iova ?? 0n,
  });
  return out.iova as bigint;
}

export async function ioasUnmap(fd: Iommufd, ioasId: number, iova: bigint, length: bigint): Promise<bigint> {
  const out = await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioasId, iova, length });
  return out.length as bigint;
}

/** Teardown check of every fixture: after close nothing stays pinned or charged. */
export async function closeAndCheck(st: Selftest): Promise<void> {
  await st.fd.close();
  if (st.proc.mm.counters.pinnedPages !== 0n)
    throw new Error(`${st.proc.mm.counters.pinnedPages} pages still pinned`);
  if (st.proc.user.lockedPages !== 0n) throw new Error(`${st.proc.user.lockedPages} pages still charged`);
}
