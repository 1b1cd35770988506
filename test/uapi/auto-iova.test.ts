/**
 * Selftest catalogue §6 area_auto_iova (23–26) on FIXTURE iommufd_ioas × variants, and own cases
 * for the auto-allocation rules of spec §3 (alignment, sub-page offset, windows, ENOSPC).
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_SET,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import {
  BUFFER_SIZE,
  closeAndCheck,
  HUGEPAGE_SIZE,
  ioasMap,
  ioasUnmap,
  mockDomain,
  openSelftest,
  PAGE_SIZE,
  type Selftest,
} from './helpers/fixture.ts';
import {
  APERTURE_START,
  addReserved,
  allowIovas,
  checkMockIova,
  copy,
  expectErrnoUnchanged,
  IOAS_VARIANTS,
  ioasAlloc,
  mapFile,
  option,
  type Range,
  U64_MAX,
  useIoasFixture,
} from './helpers/more.ts';

const P = PAGE_SIZE;
/** `1UL << (ffs(length) - 1)`: the natural alignment of a length. */
const lowBit = (n: bigint) => n & -n;

describe.each(IOAS_VARIANTS)('iommufd_ioas.$name area_auto_iova', (variant) => {
  const self = useIoasFixture(variant);

  /** Maps (i+1) pages for i = 0..9 and checks alignment and `extra`; then unmaps them. */
  async function tenMaps(uptr: bigint, extra: (iova: bigint, length: bigint) => void): Promise<void> {
    const { fd, ioasId } = self();
    const iovas: bigint[] = [];
    for (let i = 0n; i < 10n; i++) {
      const length = P * (i + 1n);
      const iova = await expectOk(ioasMap(fd, ioasId, uptr, length));
      expect(iova % lowBit(length), `iova 0x${iova.toString(16)} for length ${length}`).toBe(0n);
      extra(iova, length);
      iovas.push(iova);
    }
    for (const [i, iova] of iovas.entries()) await expectOk(ioasUnmap(fd, ioasId, iova, P * BigInt(i + 1)));
  }

  test('basic (23): simple 4k pages', async () => {
    const { fd, ioasId, buffer } = self();
    const iovas: bigint[] = [];
    for (let i = 0; i < 10; i++) iovas.push(await expectOk(ioasMap(fd, ioasId, buffer, P)));
    expect(new Set(iovas).size).toBe(10);
    for (const iova of iovas) await expectOk(ioasUnmap(fd, ioasId, iova, P));
  });

  test('align (24): the kernel aligns IOVAs to the length', async () => {
    // Without a domain the bogus pointer maps: nothing is pinned or touched at MAP time.
    await tenMaps(self().stdevId ? self().buffer : 1n << 31n, () => {});
    expect(self().proc.mm.counters.pinnedPages).toBe(0n);
  });

  test('reserved (25): auto IOVAs avoid a reserved region', async () => {
    const { fd, ioasId, buffer } = self();
    const start = P * 4n;
    const length = P * 100n;
    await expectOk(addReserved(fd, ioasId, start, length));
    await tenMaps(buffer, (iova) => expect(iova > start && iova < start + length).toBe(false));
  });

  test('allowed (26–27): auto IOVAs come from the allowed ranges', async () => {
    const { fd, ioasId, buffer, stdevId } = self();
    await expectOk(addReserved(fd, ioasId, P * 4n, P * 100n));
    // An allowed region that intersects a reserved region.
    await expectErrno('EADDRINUSE', allowIovas(fd, ioasId, [{ start: P, last: P * 600n }]));
    const range: Range = stdevId
      ? { start: APERTURE_START + P, last: APERTURE_START + P * 600n - 1n }
      : { start: P * 200n, last: P * 600n - 1n };
    await expectOk(allowIovas(fd, ioasId, [range]));
    await tenMaps(buffer, (iova, length) => {
      expect(iova >= range.start && iova <= range.last).toBe(true);
      expect(iova + length > range.start && iova + length <= range.last + 1n).toBe(true);
    });
  });
});

describe('auto IOVA allocation rules (§3)', () => {
  let self: Selftest;
  let ioasId: number;
  beforeEach(async () => {
    self = openSelftest();
    ioasId = await ioasAlloc(self.fd);
  });
  afterEach(async () => {
    await closeAndCheck(self);
  });
  const map = (uptr: bigint, length: bigint) => ioasMap(self.fd, ioasId, uptr, length);
  const FAR = 1n << 40n; // a bogus, highly aligned user VA: no domain, so never touched

  test('alignment is roundup_pow_of_two(length), capped by the lowest set bit of user_va', async () => {
    const cases: Array<[bigint, bigint, bigint]> = [
      [FAR, 3n * P, 4n * P],
      [FAR + 0x3000n, 4n * P, P],
      [FAR + 0x2000n, 4n * P, 2n * P],
      [FAR, 5n * P, 8n * P],
      [FAR + 0x10000n, 64n * P, 16n * P],
    ];
    for (const [uptr, length, want] of cases) {
      expect(await map(uptr, length)).toBe(want);
      await ioasUnmap(self.fd, ioasId, want, length);
    }
  });

  test('alignment is capped at HPAGE_SIZE', async () => {
    expect(await map(FAR, 4n * HUGEPAGE_SIZE)).toBe(HUGEPAGE_SIZE);
    expect(await map(FAR, 4n * HUGEPAGE_SIZE)).toBe(5n * HUGEPAGE_SIZE);
  });

  test('the sub-page offset of user_va is kept, and IOVA 0 is never chosen', async () => {
    expect(await map(FAR + 0x123n, P)).toBe(P + 0x123n);
    expect(await map(FAR + 0x123n, P)).toBe(2n * P + 0x123n);
    expect(await map(FAR + 0xfffn, 1n)).toBe(3n * P + 0xfffn);
  });

  test('COPY and MAP_FILE keep the sub-page offset of their source too', async () => {
    await ioasMap(self.fd, ioasId, FAR + 0x123n, P, 0x10000n + 0x123n);
    const dst = await ioasAlloc(self.fd);
    const rw = IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;
    expect(await copy(self.fd, { flags: rw, dst, src: ioasId, length: P, srcIova: 0x10123n })).toBe(
      P + 0x123n,
    );
    const mfd = self.proc.memfd(4n * P);
    expect(await mapFile(self.fd, dst, mfd, P + 0x123n, P)).toBe(2n * P + 0x123n);
    self.proc.close(mfd);
  });

  test('with a domain the first auto IOVA is the aperture start, with the sub-page offset kept', async () => {
    const md = await mockDomain(self.fd, ioasId);
    expect(await map(self.buffer, P)).toBe(APERTURE_START);
    const iova = await map(self.buffer + 0x800n, 0x800n);
    expect(iova % P).toBe(0x800n);
    await checkMockIova(self.fd, [md.hwptId], self.buffer + 0x800n, iova, 0x800n);
  });

  test('the last page is never chosen; allowed spans are clipped to [PAGE_SIZE, ULONG_MAX - PAGE_SIZE]', async () => {
    await allowIovas(self.fd, ioasId, [{ start: U64_MAX - 2n * P + 1n, last: U64_MAX }]);
    await expectErrnoUnchanged(self, [ioasId], 'ENOSPC', () => map(FAR, 2n * P));
    expect(await map(FAR, P)).toBe(U64_MAX - 2n * P + 1n);
    await allowIovas(self.fd, ioasId, [{ start: 0n, last: P - 1n }]);
    await expectErrnoUnchanged(self, [ioasId], 'ENOSPC', () => map(FAR, 1n));
  });

  test('allowed ranges are tried in ascending order, first fit wins', async () => {
    await allowIovas(self.fd, ioasId, [
      { start: 20n * P, last: 40n * P - 1n },
      { start: 10n * P, last: 11n * P - 1n },
    ]);
    expect(await map(FAR, 2n * P)).toBe(20n * P);
    expect(await map(FAR, P)).toBe(10n * P);
    expect(await map(FAR, P)).toBe(22n * P);
    // FIXED maps ignore the allowed list.
    expect(await ioasMap(self.fd, ioasId, FAR, P, 0n)).toBe(0n);
    // num_iovas = 0 clears the list.
    await allowIovas(self.fd, ioasId, []);
    expect(await map(FAR, P)).toBe(P);
  });

  test('reserved ranges and existing areas are skipped; no fit → ENOSPC with nothing changed', async () => {
    await addReserved(self.fd, ioasId, P, 7n * P);
    await ioasMap(self.fd, ioasId, FAR, P, 8n * P);
    expect(await map(FAR, P)).toBe(9n * P);
    // Allowed ranges may cover areas (not reservations).
    await allowIovas(self.fd, ioasId, [{ start: 8n * P, last: 16n * P - 1n }]);
    await expectErrnoUnchanged(self, [ioasId], 'ENOSPC', () => map(FAR, 8n * P));
    expect(await map(FAR, 4n * P)).toBe(12n * P);
  });

  test('length >= ULONG_MAX / 2 → EOVERFLOW for auto IOVA; a FIXED map of 2^63 bytes works without a domain', async () => {
    await expectErrnoUnchanged(self, [ioasId], 'EOVERFLOW', () => map(0n, (1n << 63n) - 1n));
    expect(await map(0n, (1n << 63n) - 2n)).toBe(HUGEPAGE_SIZE);
    await expectErrnoUnchanged(self, [ioasId], 'ENOSPC', () => map(0n, (1n << 63n) - 2n));
    const other = await ioasAlloc(self.fd);
    expect(await ioasMap(self.fd, other, 0n, 1n << 63n, 0n)).toBe(0n);
    expect(await ioasUnmap(self.fd, other, 0n, U64_MAX)).toBe(1n << 63n);
  });

  test('an auto alignment below the IOAS alignment → EINVAL', async () => {
    await option(self.fd, {
      option_id: IOMMU_OPTION_HUGE_PAGES,
      op: IOMMU_OPTION_OP_SET,
      object_id: ioasId,
      val64: 0n,
    });
    await expectErrnoUnchanged(self, [ioasId], 'EINVAL', () => map(FAR + 0x800n, P));
    expect(await map(FAR + 0x1000n, BUFFER_SIZE)).toBe(P);
  });
});
