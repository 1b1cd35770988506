/**
 * Selftest catalogue §6 access_rw (42) and access_rw_unaligned (43) on FIXTURE iommufd_ioas ×
 * variants: CPU copies through an in-kernel access, byte-exact around a page boundary.
 */
import { describe, expect, test } from 'vitest';
import {
  IOMMU_TEST_CMD,
  IOMMU_TEST_OP_ACCESS_RW,
  type Iommufd,
  iommu_test_cmd_raw,
  MOCK_ACCESS_RW_SLOW_PATH,
  MOCK_ACCESS_RW_WRITE,
} from '../../index.ts';
import { expectOk } from './helpers/expect.ts';
import { BUFFER_SIZE, ioasMap, ioasUnmap, PAGE_SIZE } from './helpers/fixture.ts';
import {
  accessRw,
  createAccess,
  IOAS_VARIANTS,
  MOCK_PGSIZE,
  place,
  rng,
  useIoasFixture,
} from './helpers/more.ts';

const P = PAGE_SIZE;
/** 12,600 ioctls per check: generous, so a loaded machine does not turn slowness into a failure. */
const HEAVY_TIMEOUT = 180_000;

/**
 * `check_access_rw`: byte-exact reads and writes of 1..63 bytes around a page boundary, then one
 * read of the whole buffer. The inner loop is raw (one struct patched in place) to keep 12,600 calls cheap.
 */
async function checkAccessRw(fd: Iommufd, buffer: bigint, accessFd: number, iova: bigint, defFlags: number) {
  const proc = fd.process;
  const rand = rng(0x5eed ^ defFlags);
  const fill = (n: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = rand();
      b[i] = r & 0xff;
      b[i + 1] = (r >>> 8) & 0xff;
    }
    return b;
  };
  proc.write(buffer, fill(Number(BUFFER_SIZE)));
  const tmp = place(proc, new Uint8Array(64));
  const cmd = iommu_test_cmd_raw.encode({
    size: iommu_test_cmd_raw.sizeof,
    op: IOMMU_TEST_OP_ACCESS_RW,
    id: accessFd,
    u: { access_rw: { uptr: tmp } },
  });
  const cmdVa = place(proc, cmd);
  const rwOff = iommu_test_cmd_raw.offsetof('u');
  const dv = new DataView(cmd.buffer);
  const rw = async (at: bigint, length: number, flags: number) => {
    dv.setBigUint64(rwOff, at, true);
    dv.setBigUint64(rwOff + 8, BigInt(length), true);
    dv.setUint32(rwOff + 24, flags, true);
    proc.write(cmdVa, cmd);
    await expectOk(() => fd.ioctlRaw(IOMMU_TEST_CMD, cmdVa));
  };
  // Compared by hand and reported once: expect() per iteration would dominate the run time.
  const mismatches: string[] = [];
  const same = (a: Uint8Array, b: Uint8Array, what: string) => {
    if (a.length !== b.length || a.some((x, i) => x !== b[i])) mismatches.push(what);
  };
  for (let at = iova + P - 50n; at < iova + P + 50n; at++) {
    for (let length = 1; length < 64; length++) {
      await rw(at, length, defFlags);
      same(proc.read(tmp, length), proc.read(buffer + (at - iova), length), `read ${at}+${length}`);
      proc.write(tmp, fill(64));
      await rw(at, length, defFlags | MOCK_ACCESS_RW_WRITE);
      same(proc.read(buffer + (at - iova), length), proc.read(tmp, length), `write ${at}+${length}`);
    }
  }
  expect(mismatches).toEqual([]);
  // Multi-page test.
  const tmp2 = place(proc, new Uint8Array(Number(BUFFER_SIZE)));
  await accessRw(fd, accessFd, { iova, length: BUFFER_SIZE, uptr: tmp2, flags: defFlags });
  expect(proc.read(tmp2, Number(BUFFER_SIZE))).toEqual(proc.read(buffer, Number(BUFFER_SIZE)));
}

describe.each(IOAS_VARIANTS)('iommufd_ioas.$name access', (variant) => {
  const self = useIoasFixture(variant);

  test(
    'access_rw (42)',
    async () => {
      const { fd, ioasId, buffer } = self();
      const access = await createAccess(fd, ioasId, 0);
      const iova = await expectOk(ioasMap(fd, ioasId, buffer, BUFFER_SIZE));
      await checkAccessRw(fd, buffer, access, iova, 0);
      await checkAccessRw(fd, buffer, access, iova, MOCK_ACCESS_RW_SLOW_PATH);
      await expectOk(ioasUnmap(fd, ioasId, iova, BUFFER_SIZE));
      fd.process.close(access);
    },
    HEAVY_TIMEOUT,
  );

  test(
    'access_rw_unaligned (43)',
    async () => {
      const { fd, ioasId, buffer, baseIova } = self();
      const access = await createAccess(fd, ioasId, 0);
      // Unaligned pages.
      const iova = baseIova + MOCK_PGSIZE;
      await expectOk(ioasMap(fd, ioasId, buffer, BUFFER_SIZE, iova));
      await checkAccessRw(fd, buffer, access, iova, 0);
      await expectOk(ioasUnmap(fd, ioasId, iova, BUFFER_SIZE));
      fd.process.close(access);
    },
    HEAVY_TIMEOUT,
  );
});
