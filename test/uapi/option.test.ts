/**
 * Own cases for IOMMU_OPTION (§2.8): check order of the global RLIMIT_MODE and the per-IOAS
 * HUGE_PAGES option, their effect on accounting and IOVA alignment, and failures that change nothing.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  createFarm,
  IOMMU_OPTION_OP_GET as GET,
  IOMMU_OPTION_HUGE_PAGES as HUGE_PAGES,
  IOMMU_OPTION_RLIMIT_MODE as RLIMIT_MODE,
  IOMMU_OPTION_OP_SET as SET,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import {
  closeAndCheck,
  ioasMap,
  mockDomain,
  openSelftest,
  PAGE_SIZE,
  type Selftest,
} from './helpers/fixture.ts';
import {
  APERTURE_START,
  destroy,
  expectErrnoUnchanged,
  ioasAlloc,
  iovaRanges,
  MOCK_PGSIZE,
  option,
  rawCall,
} from './helpers/more.ts';

const P = PAGE_SIZE;

describe('IOMMU_OPTION (§2.8)', () => {
  let self: Selftest;
  beforeEach(() => {
    self = openSelftest();
  });
  afterEach(async () => {
    await closeAndCheck(self);
  });
  const opt = (f: { option_id: number; op: number; object_id?: number; val64?: bigint }) =>
    option(self.fd, f);

  test('__reserved and an unknown option_id → EOPNOTSUPP, before any object lookup', async () => {
    await expectErrno(
      'EOPNOTSUPP',
      rawCall(self.fd, 'IOMMU_OPTION', { option_id: HUGE_PAGES, __reserved: 1 }),
    );
    await expectErrno(
      'EOPNOTSUPP',
      rawCall(self.fd, 'IOMMU_OPTION', { option_id: RLIMIT_MODE, __reserved: 1 }),
    );
    await expectErrno('EOPNOTSUPP', opt({ option_id: 2, op: GET, object_id: 999 }));
  });

  test('RLIMIT_MODE: object_id ≠ 0 and unknown ops → EOPNOTSUPP; bad values → EINVAL; GET/SET round trip', async () => {
    await expectErrno('EOPNOTSUPP', opt({ option_id: RLIMIT_MODE, op: SET, object_id: 1, val64: 7n }));
    await expectErrno('EOPNOTSUPP', opt({ option_id: RLIMIT_MODE, op: GET, object_id: 1 }));
    await expectErrno('EOPNOTSUPP', opt({ option_id: RLIMIT_MODE, op: 2 }));
    expect(await opt({ option_id: RLIMIT_MODE, op: GET, val64: 5n })).toBe(0n);
    await expectErrno('EINVAL', opt({ option_id: RLIMIT_MODE, op: SET, val64: 2n }));
    expect(await opt({ option_id: RLIMIT_MODE, op: GET })).toBe(0n);
    await expectOk(opt({ option_id: RLIMIT_MODE, op: SET, val64: 1n }));
    expect(await opt({ option_id: RLIMIT_MODE, op: GET })).toBe(1n);
  });

  test('RLIMIT_MODE SET: EPERM without CAP_SYS_RESOURCE comes before EBUSY, which comes before EINVAL', async () => {
    const proc = createFarm({ seed: 4 }).addHost({ name: 'h', selftest: true }).spawnProcess({
      name: 'user',
      privileged: false,
    });
    const fd = proc.openIommufd();
    await ioasAlloc(fd);
    await expectErrno('EPERM', option(fd, { option_id: RLIMIT_MODE, op: SET, val64: 2n }));
    expect(await option(fd, { option_id: RLIMIT_MODE, op: GET })).toBe(0n);
    await fd.close();

    const id = await ioasAlloc(self.fd);
    await expectErrnoUnchanged(self, [id], 'EBUSY', () =>
      opt({ option_id: RLIMIT_MODE, op: SET, val64: 2n }),
    );
    await expectErrno('EBUSY', opt({ option_id: RLIMIT_MODE, op: SET, val64: 1n }));
    // Once the ctx is empty again the mode can change.
    await destroy(self.fd, id);
    await expectOk(opt({ option_id: RLIMIT_MODE, op: SET, val64: 1n }));
  });

  test('RLIMIT_MODE decides who is charged for pins: the user (0) or the mm (1); VmPin counts both', async () => {
    const charge = async (mode: bigint) => {
      const st = openSelftest({ seed: 10 + Number(mode) });
      await option(st.fd, { option_id: RLIMIT_MODE, op: SET, val64: mode });
      const ioas = await ioasAlloc(st.fd);
      await mockDomain(st.fd, ioas);
      await ioasMap(st.fd, ioas, st.buffer, 4n * P);
      const seen = {
        user: st.proc.user.lockedPages,
        mm: st.proc.mm.counters.lockedPages,
        pinned: st.proc.mm.counters.pinnedPages,
      };
      await closeAndCheck(st);
      expect(st.proc.mm.counters.lockedPages).toBe(0n);
      return seen;
    };
    expect(await charge(0n)).toEqual({ user: 4n, mm: 0n, pinned: 4n });
    expect(await charge(1n)).toEqual({ user: 0n, mm: 4n, pinned: 4n });
  });

  test('HUGE_PAGES: the IOAS lookup comes first (object 0, non-IOAS → ENOENT), then op, then value', async () => {
    const ioas = await ioasAlloc(self.fd);
    const md = await mockDomain(self.fd, ioas);
    await expectErrno('ENOENT', opt({ option_id: HUGE_PAGES, op: GET, object_id: 0 }));
    await expectErrno('ENOENT', opt({ option_id: HUGE_PAGES, op: 2, object_id: 0 }));
    await expectErrno('ENOENT', opt({ option_id: HUGE_PAGES, op: SET, object_id: md.hwptId, val64: 2n }));
    await expectErrno('ENOENT', opt({ option_id: HUGE_PAGES, op: GET, object_id: md.idevId }));
    await expectErrnoUnchanged(self, [ioas], 'EOPNOTSUPP', () =>
      opt({ option_id: HUGE_PAGES, op: 2, object_id: ioas }),
    );
    await expectErrnoUnchanged(self, [ioas], 'EINVAL', () =>
      opt({ option_id: HUGE_PAGES, op: SET, object_id: ioas, val64: 2n }),
    );
    expect(await opt({ option_id: HUGE_PAGES, op: GET, object_id: ioas })).toBe(1n);
  });

  test('HUGE_PAGES=0 raises the alignment to PAGE_SIZE; 1 lowers it again', async () => {
    const ioas = await ioasAlloc(self.fd);
    const set = (val64: bigint) => opt({ option_id: HUGE_PAGES, op: SET, object_id: ioas, val64 });
    expect((await iovaRanges(self.fd, ioas)).alignment).toBe(1n);
    await set(0n);
    expect((await iovaRanges(self.fd, ioas)).alignment).toBe(P);
    await expectErrno('EINVAL', ioasMap(self.fd, ioas, self.buffer, MOCK_PGSIZE));
    await set(1n);
    expect((await iovaRanges(self.fd, ioas)).alignment).toBe(1n);
    // With a domain (2 KiB pages) and no area: allowed, the alignment becomes PAGE_SIZE.
    await mockDomain(self.fd, ioas);
    expect((await iovaRanges(self.fd, ioas)).alignment).toBe(MOCK_PGSIZE);
    await set(0n);
    expect((await iovaRanges(self.fd, ioas)).alignment).toBe(P);
    await set(1n);
    expect((await iovaRanges(self.fd, ioas)).alignment).toBe(MOCK_PGSIZE);
  });

  test('HUGE_PAGES=0 with a domain and an area → EINVAL; with a misaligned area → EADDRINUSE; both revert', async () => {
    const ioas = await ioasAlloc(self.fd);
    const set0 = () => opt({ option_id: HUGE_PAGES, op: SET, object_id: ioas, val64: 0n });
    await ioasMap(self.fd, ioas, self.buffer + MOCK_PGSIZE, P, APERTURE_START);
    await expectErrnoUnchanged(self, [ioas], 'EADDRINUSE', set0);
    expect(await opt({ option_id: HUGE_PAGES, op: GET, object_id: ioas })).toBe(1n);

    const dom = await ioasAlloc(self.fd);
    await mockDomain(self.fd, dom);
    await ioasMap(self.fd, dom, self.buffer, P, APERTURE_START);
    await expectErrnoUnchanged(self, [ioas, dom], 'EINVAL', () =>
      opt({ option_id: HUGE_PAGES, op: SET, object_id: dom, val64: 0n }),
    );
    expect(await opt({ option_id: HUGE_PAGES, op: GET, object_id: dom })).toBe(1n);
  });

  test('HUGE_PAGES=0 when already 0 succeeds even with a domain and an area', async () => {
    const ioas = await ioasAlloc(self.fd);
    await opt({ option_id: HUGE_PAGES, op: SET, object_id: ioas, val64: 0n });
    await mockDomain(self.fd, ioas);
    await ioasMap(self.fd, ioas, self.buffer, P, APERTURE_START);
    await expectOk(opt({ option_id: HUGE_PAGES, op: SET, object_id: ioas, val64: 0n }));
    expect(await opt({ option_id: HUGE_PAGES, op: GET, object_id: ioas })).toBe(0n);
  });
});
