import { fc, test as ftest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { cdUsedBits, decodeCd, encodeCd } from '../../../../vendors/arm-smmuv3/cd.ts';
import {
  CMDQ_OP_ATC_INV,
  CMDQ_OP_CFGI_CD,
  CMDQ_OP_CMD_SYNC,
  CMDQ_OP_TLBI_NH_VA,
  CMDQ_OPS,
  decodeCmd,
  encodeCmd,
} from '../../../../vendors/arm-smmuv3/cmd.ts';
import { decodeEvent, decodePri, encodeEvent, encodePri } from '../../../../vendors/arm-smmuv3/event.ts';
import { decodeSte, encodeSte, type Ste, steUsedBits } from '../../../../vendors/arm-smmuv3/ste.ts';

const u = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });
const addr = (hi: number, lo: number) =>
  fc.bigInt({ min: 0n, max: (1n << BigInt(hi + 1)) - 1n }).map((v) => v & ~((1n << BigInt(lo)) - 1n));

const steArb = fc.record({
  v: fc.boolean(),
  config: u(3),
  s1fmt: u(2),
  s1ctxptr: addr(51, 6),
  s1cdmax: u(5),
  s1dss: u(2),
  s1cir: u(2),
  s1cor: u(2),
  s1csh: u(2),
  mev: fc.boolean(),
  s1stalld: fc.boolean(),
  eats: u(2),
  strw: u(2),
  shcfg: u(2),
  s2vmid: u(16),
  vtcr: fc.record({ t0sz: u(6), sl0: u(2), ir0: u(2), or0: u(2), sh0: u(2), tg: u(2), ps: u(3) }),
  s2aa64: fc.boolean(),
  s2endi: fc.boolean(),
  s2ptw: fc.boolean(),
  s2s: fc.boolean(),
  s2r: fc.boolean(),
  s2ttb: addr(51, 4),
}) satisfies fc.Arbitrary<Ste>;

describe('STE encoding (STRTAB_STE_*)', () => {
  ftest.prop([steArb], { numRuns: 50 })('decode(encode(ste)) is the identity', (ste) => {
    expect(decodeSte(encodeSte(ste))).toEqual(ste);
  });

  test('bit positions follow arm-smmu-v3.h', () => {
    const w = encodeSte({
      v: true,
      config: 5,
      s1ctxptr: 0xabcdef40n,
      s1cdmax: 20,
      s1dss: 2,
      eats: 1,
      s2vmid: 0x1234,
    });
    expect(w[0]).toBe(1n | (5n << 1n) | 0xabcdef40n | (20n << 59n));
    expect(w[1]).toBe((2n << 0n) | (1n << 28n));
    expect(w[2]).toBe(0x1234n);
    const s2 = encodeSte({
      v: true,
      config: 6,
      vtcr: { t0sz: 16, sl0: 2, ir0: 1, or0: 1, sh0: 3, tg: 0, ps: 5 },
      s2aa64: true,
      s2r: true,
      s2ttb: 0x1230n,
    });
    expect(s2[2]).toBe(
      (BigInt(16 | (2 << 6) | (1 << 8) | (1 << 10) | (3 << 12) | (5 << 16)) << 32n) |
        (1n << 51n) |
        (1n << 58n),
    );
    expect(s2[3]).toBe(0x1230n);
  });

  test('used bits: abort uses V and Config only; S1 adds the CD table pointer; S2 the VTCR/S2TTB', () => {
    expect(steUsedBits(encodeSte({ v: false, config: 5 }))[0]).toBe(1n);
    const abort = steUsedBits(encodeSte({ v: true, config: 0 }));
    expect(abort).toEqual([0xfn, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
    const s1 = steUsedBits(encodeSte({ v: true, config: 5 }));
    expect(s1[0]! & (1n << 51n)).not.toBe(0n);
    expect(s1[3]).toBe(0n);
    const s2 = steUsedBits(encodeSte({ v: true, config: 6 }));
    expect(s2[3]).toBe(((1n << 52n) - 1n) & ~0xfn);
    expect(s2[0]! & (1n << 51n)).toBe(0n);
  });
});

describe('CD encoding (CTXDESC_CD_*)', () => {
  const cdArb = fc.record({
    v: fc.boolean(),
    t0sz: u(6),
    tg0: u(2),
    irgn0: u(2),
    orgn0: u(2),
    sh0: u(2),
    epd0: fc.boolean(),
    endi: fc.boolean(),
    t1sz: u(6),
    tg1: u(2),
    epd1: fc.boolean(),
    ips: u(3),
    tbi0: fc.boolean(),
    aa64: fc.boolean(),
    hd: fc.boolean(),
    ha: fc.boolean(),
    s: fc.boolean(),
    r: fc.boolean(),
    a: fc.boolean(),
    aset: fc.boolean(),
    asid: u(16),
    ttb0: addr(51, 4),
    ttb1: addr(51, 4),
    mair: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  });
  ftest.prop([cdArb], { numRuns: 50 })('decode(encode(cd)) is the identity', (cd) => {
    expect(decodeCd(encodeCd(cd))).toEqual(cd);
  });

  test('V is bit 31, ASID 63:48, TTB0 in dword 1, EPD0 hides the TTB0 fields from the used set', () => {
    const w = encodeCd({
      v: true,
      asid: 0xbeef,
      t0sz: 16,
      ttb0: 0x4000n,
      epd1: true,
      aa64: true,
      r: true,
      ha: true,
      hd: true,
    });
    expect(w[0]).toBe(
      (1n << 31n) |
        (0xbeefn << 48n) |
        16n |
        (1n << 30n) |
        (1n << 41n) |
        (1n << 45n) |
        (1n << 43n) |
        (1n << 42n),
    );
    expect(w[1]).toBe(0x4000n);
    const used = cdUsedBits(encodeCd({ v: true, epd0: true }));
    expect(used[1]).toBe(((1n << 64n) - 1n) & ~(((1n << 52n) - 1n) & ~0xfn));
    expect(used[0]! & 0x3fn).toBe(0n);
  });
});

describe('CMDQ entries', () => {
  const ctx = { sidBits: 16, ssidBits: 20, ril: true, hyp: true, s2: true, ats: true, pri: true };

  test('every opcode round-trips with its fields', () => {
    for (const [op] of CMDQ_OPS) {
      const [dw0, dw1] = encodeCmd({ op });
      const d = decodeCmd(dw0, dw1, ctx);
      expect(d.ok, `op 0x${op.toString(16)}`).toBe(true);
    }
    const tlbi = encodeCmd({
      op: CMDQ_OP_TLBI_NH_VA,
      asid: 7,
      vmid: 3,
      num: 4,
      scale: 2,
      tg: 1,
      ttl: 3,
      leaf: 1,
      addr: 0x12345000n,
    });
    expect(tlbi[0]).toBe(0x12n | (4n << 12n) | (2n << 20n) | (3n << 32n) | (7n << 48n));
    expect(tlbi[1]).toBe(1n | (3n << 8n) | (1n << 10n) | 0x12345000n);
    const atc = encodeCmd({ op: CMDQ_OP_ATC_INV, sid: 0x100, ssv: 1, ssid: 5, size: 52, addr: 0n });
    expect(atc[0]).toBe(0x40n | (1n << 11n) | (5n << 12n) | (0x100n << 32n));
    expect(atc[1]).toBe(52n);
    const sync = encodeCmd({ op: CMDQ_OP_CMD_SYNC, cs: 1, msidata: 0xdead, msiaddr: 0x8000n });
    expect(sync[0]).toBe(0x46n | (1n << 12n) | (0xdeadn << 32n));
    expect(sync[1]).toBe(0x8000n);
  });

  ftest.prop(
    [
      fc.integer({ min: 0, max: 255 }).filter((op) => !CMDQ_OPS.has(op)),
      fc.bigInt({ min: 0n, max: (1n << 56n) - 1n }),
    ],
    {
      numRuns: 50,
    },
  )('unknown opcodes are illegal', (op, rest) => {
    expect(decodeCmd(BigInt(op) | (rest << 8n), 0n, ctx).ok).toBe(false);
  });

  test('reserved bits, reserved encodings and out-of-range IDs are illegal', () => {
    expect(decodeCmd(0x46n | (3n << 12n), 0n, ctx).ok).toBe(false); // CS=3
    expect(decodeCmd(0x46n | (1n << 8n), 0n, ctx).ok).toBe(false); // reserved dw0 bit
    expect(decodeCmd(0x46n, 1n, ctx).ok).toBe(false); // MSIADDR bit 0 is reserved
    const [c0, c1] = encodeCmd({ op: CMDQ_OP_CFGI_CD, sid: 1, ssid: 1 });
    expect(decodeCmd(c0, c1, { ...ctx, ssidBits: 0 }).ok).toBe(false);
    expect(decodeCmd(0x3n | (1n << 48n), 0n, ctx).ok).toBe(false); // SID 65536 with 16 SID bits
    const [r0, r1] = encodeCmd({ op: CMDQ_OP_TLBI_NH_VA, num: 1, tg: 1 });
    expect(decodeCmd(r0, r1, { ...ctx, ril: false }).ok).toBe(false);
    const [e0, e1] = encodeCmd({ op: 0x20 });
    expect(decodeCmd(e0, e1, { ...ctx, hyp: false }).ok).toBe(false);
  });
});

describe('EVTQ and PRIQ records', () => {
  ftest.prop(
    [
      fc.record({
        id: u(8),
        sid: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        ssv: fc.boolean(),
        ssid: u(20),
        stag: u(16),
        stall: fc.boolean(),
        pnu: fc.boolean(),
        ind: fc.boolean(),
        rnw: fc.boolean(),
        s2: fc.boolean(),
        class: u(2),
        ttRead: fc.boolean(),
        addr: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        dw3: addr(51, 0),
      }),
    ],
    { numRuns: 50 },
  )('event records round-trip', (e) => {
    expect(decodeEvent(encodeEvent(e))).toEqual(e);
  });

  test('event ID in 7:0, SID in 63:32, S2 at bit 39 of dword 1', () => {
    const w = encodeEvent({ id: 0x10, sid: 0x100, s2: true, rnw: true, class: 2, addr: 0x5000n });
    expect(w[0]).toBe(0x10n | (0x100n << 32n));
    expect(w[1]).toBe((1n << 39n) | (1n << 35n) | (2n << 40n));
    expect(w[2]).toBe(0x5000n);
  });

  ftest.prop(
    [
      fc.record({
        sid: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        ssidValid: fc.boolean(),
        ssid: u(20),
        priv: fc.boolean(),
        exec: fc.boolean(),
        read: fc.boolean(),
        write: fc.boolean(),
        last: fc.boolean(),
        grpid: u(9),
        addr: addr(63, 12),
      }),
    ],
    { numRuns: 50 },
  )('PRIQ entries round-trip', (p) => {
    expect(decodePri(encodePri(p))).toEqual(p);
  });
});
