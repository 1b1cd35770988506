import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import {
  IOCTL_TABLE,
  IOCTLS,
  type IoctlName,
  IommufdError,
  MOCK_APERTURE_LAST,
  MOCK_APERTURE_START,
} from '../../index.ts';
import { type CtxSnapshot, snapshotCtx } from '../../props/snapshot.ts';
import { ioasFixture, ioasMap } from './helpers/fixture.ts';

const A = BigInt(MOCK_APERTURE_START);
const L = BigInt(MOCK_APERTURE_LAST);
const U64 = (1n << 64n) - 1n;

/** Values that sit on the edges the kernel checks: zero, apertures, alignment boundaries, 2^64-1. */
const edgyU64 = fc.oneof(
  fc.constantFrom(
    0n,
    1n,
    0x800n,
    0x1000n,
    0x10000n,
    A,
    A - 0x800n,
    L,
    L + 1n,
    1n << 31n,
    1n << 63n,
    U64,
    U64 - 1n,
  ),
  fc.bigInt({ min: 0n, max: U64 }),
  fc.bigInt({ min: 0n, max: 0x1000n }).map((n) => A + n * 0x800n),
);
const edgyU32 = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 0xffff_ffff, 0x8000_0000, 0xdead, 0xdeadbeef, 0xbadbeef),
  fc.nat({ max: 0xffff_ffff }),
);
const edgyU16 = fc.constantFrom(0, 1, 2, 3, 0xffff);
const edgyU8 = fc.constantFrom(0, 1, 20, 0xff);

/** Random values for every field of an ioctl struct (sizes and pointers included). */
function fieldsFor(name: IoctlName): fc.Arbitrary<Record<string, unknown>> {
  const layout = IOCTLS[name].layout;
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of layout.fields) {
    if (f.name === 'size') continue;
    if (typeof f.type === 'object') {
      if ('array' in f.type) {
        const el = f.type.array === 'u64' ? edgyU64 : f.type.array === 'u8' ? edgyU8 : edgyU32;
        record[f.name] = fc.array(el as fc.Arbitrary<unknown>, {
          minLength: f.type.length,
          maxLength: f.type.length,
        });
      }
      continue;
    }
    record[f.name] =
      f.type === 'u64' ? edgyU64 : f.type === 'u16' ? edgyU16 : f.type === 'u8' ? edgyU8 : edgyU32;
  }
  return fc.record(record, { requiredKeys: [] });
}

const testCmd = fc.record({
  op: fc.integer({ min: 0, max: 26 }),
  id: edgyU32,
  __reserved: fc.constantFrom(0, 0, 1),
  u: fc.array(fc.oneof(edgyU32, fc.constant(0)), { minLength: 12, maxLength: 12 }),
});

type Call =
  | { kind: 'typed'; name: IoctlName; fields: Record<string, unknown> }
  | { kind: 'test'; op: number; id: number; reserved: number; words: number[] }
  | { kind: 'raw'; cmd: number; size: number; bytes: Uint8Array };

const typedCall: fc.Arbitrary<Call> = fc
  .constantFrom(...IOCTL_TABLE.map((e) => e.name).filter((n) => n !== 'IOMMU_TEST_CMD'))
  .chain((name) => fieldsFor(name).map((fields) => ({ kind: 'typed' as const, name, fields })));
const testCall: fc.Arbitrary<Call> = testCmd.map((t) => ({
  kind: 'test' as const,
  op: t.op,
  id: t.id,
  reserved: t.__reserved,
  words: t.u,
}));
const rawCall: fc.Arbitrary<Call> = fc.record({
  kind: fc.constant('raw' as const),
  cmd: fc.oneof(fc.integer({ min: 0x3b00, max: 0x3bff }), fc.nat({ max: 0xffff_ffff })),
  size: fc.oneof(fc.constantFrom(0, 4, 8, 12, 24, 40, 48, 72, 100, 4096), fc.nat({ max: 256 })),
  bytes: fc.uint8Array({ minLength: 0, maxLength: 128 }),
});

/** UNMAP may remove some areas before failing: the kernel's documented partial success. */
function allowedChange(call: Call, before: CtxSnapshot, after: CtxSnapshot): boolean {
  if (!(call.kind === 'typed' && call.name === 'IOMMU_IOAS_UNMAP')) return false;
  return Object.entries(after.ioas).every(([id, s]) =>
    s.areas.every((a) => before.ioas[Number(id)]?.areas.includes(a)),
  );
}

describe('bad input never throws anything but IommufdError and never changes state on failure', () => {
  test.prop(
    [
      fc.array(
        fc.oneof(
          { weight: 5, arbitrary: typedCall },
          { weight: 3, arbitrary: testCall },
          { weight: 2, arbitrary: rawCall },
        ),
        { minLength: 1, maxLength: 12 },
      ),
    ],
    {
      numRuns: Number(process.env.FUZZ_RUNS ?? 60),
    },
  )('random ioctls on one ctx', async (calls) => {
    const fx = await ioasFixture({ mockDomains: 1 });
    await ioasMap(fx.fd, fx.ioasId, fx.buffer, 16n * 4096n);
    const ctx = fx.fd.ctx;
    const scratch = fx.proc.mmap(8192);
    for (const call of calls) {
      const before = snapshotCtx(ctx, fx.proc);
      const started = performance.now();
      try {
        if (call.kind === 'typed') await fx.fd.ioctl(call.name, call.fields as never);
        else if (call.kind === 'test') {
          const layout = IOCTLS.IOMMU_TEST_CMD.layout;
          const bytes = new Uint8Array(layout.sizeof);
          const dv = new DataView(bytes.buffer);
          dv.setUint32(0, layout.sizeof, true);
          dv.setUint32(4, call.op, true);
          dv.setUint32(8, call.id, true);
          dv.setUint32(12, call.reserved, true);
          call.words.forEach((w, i) => {
            dv.setUint32(16 + 4 * i, w, true);
          });
          fx.proc.write(scratch, bytes);
          await fx.fd.ioctlRaw(IOCTLS.IOMMU_TEST_CMD.cmd, scratch);
        } else {
          const bytes = new Uint8Array(Math.max(call.bytes.length, 4));
          bytes.set(call.bytes);
          new DataView(bytes.buffer).setUint32(0, call.size, true);
          fx.proc.write(scratch, bytes);
          await fx.fd.ioctlRaw(call.cmd, scratch);
        }
      } catch (err) {
        if (process.env.FUZZ_SLOW && performance.now() - started > 200)
          console.log('slow', JSON.stringify(call, big));
        if (!IommufdError.is(err)) throw err;
        const after = snapshotCtx(ctx, fx.proc);
        if (!allowedChange(call, before, after))
          expect(after, `${JSON.stringify(call, big)} → ${err.message}`).toEqual(before);
      }
    }
    for (const fd of fx.proc.files.fds()) fx.proc.close(fd);
    await ctx.whenClosed;
    expect(ctx.liveObjects()).toEqual([]);
    expect(fx.proc.mm.counters.pinnedPages).toBe(0n);
    expect(fx.proc.user.lockedPages).toBe(0n);
  });
});

function big(_k: string, v: unknown) {
  return typeof v === 'bigint' ? `0x${v.toString(16)}` : v instanceof Uint8Array ? [...v] : v;
}
