import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { calculatePsiAlignedAddress } from '../../../../vendors/intel-vtd/cache-tags.ts';
import { atsRange, decodeDescriptor, psiRange } from '../../../../vendors/intel-vtd/descriptors.ts';
import {
  decodeContext,
  decodePasid,
  decodePasidDir,
  decodeRoot,
  encodeContext,
  encodePasid,
  encodePasidDir,
  encodeRoot,
  pasidReservedSet,
} from '../../../../vendors/intel-vtd/entries.ts';
import { decodeFrcd, encodeFrcd } from '../../../../vendors/intel-vtd/fault-recording.ts';
import { decodePageReq, encodePageReq } from '../../../../vendors/intel-vtd/prq.ts';
import {
  descCc,
  descDevIotlb,
  descDevIotlbPasid,
  descIotlb,
  descPageResponse,
  descPc,
  descPiotlb,
  descWait,
} from '../../../../vendors/intel-vtd/qi-encode.ts';
import { capReg, DEFAULT_FEATURES, ecapReg } from '../../../../vendors/intel-vtd/regs.ts';

const addr = fc.bigInt({ min: 0n, max: (1n << 36n) - 1n }).map((p) => p << 12n);
const u = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });

describe('translation structure encodings', () => {
  test('root entry: LP/UP in bit 0 of each half, context pointers in 63:12', () => {
    const [lo, hi] = encodeRoot({ lp: true, lctp: 0x1234_5000n, up: false, uctp: 0xabc000n });
    expect(lo).toBe(0x1234_5001n);
    expect(hi).toBe(0xabc000n);
    expect(decodeRoot(lo, hi)).toEqual({ lp: true, lctp: 0x1234_5000n, up: false, uctp: 0xabc000n });
  });

  test('scalable context entry bit positions (P 0, FPD 1, DTE 2, PASIDE 3, PRE 4, PDTS 11:9, RID_PASID)', () => {
    const [lo, hi, w2, w3] = encodeContext({
      p: true,
      fpd: false,
      dte: true,
      paside: true,
      pre: true,
      pdts: 7,
      pasidDirPtr: 0x7_7000n,
      ridPasid: 0x12345,
      ridPriv: false,
    });
    expect(lo).toBe(0x7_7000n | (7n << 9n) | 0b11101n);
    expect(hi).toBe(0x12345n);
    expect([w2, w3]).toEqual([0n, 0n]);
  });

  prop.prop(
    [
      fc.record({
        p: fc.boolean(),
        fpd: fc.boolean(),
        dte: fc.boolean(),
        paside: fc.boolean(),
        pre: fc.boolean(),
        pdts: u(3),
        pasidDirPtr: addr,
        ridPasid: u(20),
        ridPriv: fc.boolean(),
      }),
    ],
    { numRuns: 50 },
  )('context entry round trip', (e) => {
    const [lo, hi] = encodeContext(e);
    expect(decodeContext(lo, hi)).toEqual(e);
  });

  prop.prop([fc.record({ p: fc.boolean(), fpd: fc.boolean(), ptp: addr })], { numRuns: 50 })(
    'PASID directory entry round trip',
    (e) => {
      expect(decodePasidDir(encodePasidDir(e))).toEqual(e);
    },
  );

  const pasidEntry = fc.record({
    p: fc.boolean(),
    fpd: fc.boolean(),
    aw: u(3),
    pgtt: u(3),
    ssade: fc.boolean(),
    ssptptr: addr,
    did: u(16),
    pwsnp: fc.boolean(),
    pgsnp: fc.boolean(),
    sre: fc.boolean(),
    flpm: u(2),
    wpe: fc.boolean(),
    nxe: fc.boolean(),
    eafe: fc.boolean(),
    fsptptr: addr,
  });

  prop.prop([pasidEntry], { numRuns: 100 })('PASID entry round trip, never touching reserved bits', (e) => {
    const words = encodePasid(e);
    expect(words).toHaveLength(8);
    expect(pasidReservedSet(words)).toBe(false);
    expect(decodePasid(words)).toEqual(e);
  });

  test('PASID entry bit positions: PGTT 8:6, AW 4:2, SSADE 9, DID val[1], SRE 128, FLPM 131:130, WPE 132, EAFE 135', () => {
    const w = encodePasid({
      p: true,
      fpd: false,
      aw: 2,
      pgtt: 3,
      ssade: true,
      ssptptr: 0x5000n,
      did: 0xbeef,
      pwsnp: true,
      pgsnp: true,
      sre: true,
      flpm: 1,
      wpe: true,
      nxe: false,
      eafe: true,
      fsptptr: 0x9000n,
    });
    expect(w[0]).toBe(0x5000n | (1n << 9n) | (3n << 6n) | (2n << 2n) | 1n);
    expect(w[1]).toBe(0xbeefn | (1n << 23n) | (1n << 24n));
    expect(w[2]).toBe(0x9000n | (1n << 7n) | (1n << 4n) | (1n << 2n) | 1n);
  });

  test('reserved PASID-entry bits are detected in every word', () => {
    const w = encodePasid(decodePasid([1n]));
    for (const [i, bit] of [
      [0, 5n],
      [1, 16n],
      [2, 8n],
      [3, 0n],
      [7, 63n],
    ] as const) {
      const bad = [...w];
      bad[i] = bad[i]! | (1n << bit);
      expect(pasidReservedSet(bad)).toBe(true);
    }
  });
});

describe('cap/ecap', () => {
  test('decode as Linux reads them', () => {
    const cap = capReg(DEFAULT_FEATURES);
    const ecap = ecapReg(DEFAULT_FEATURES);
    expect(Number((cap >> 16n) & 0x3fn) + 1).toBe(48); // cap_mgaw
    expect(Number((cap >> 8n) & 0x1fn)).toBe(0b00110); // cap_sagaw
    expect(Number((cap >> 24n) & 0x3ffn) * 16).toBe(0x200); // cap_fault_reg_offset
    expect(Number((cap >> 40n) & 0xffn) + 1).toBe(8); // cap_num_fault_regs
    expect((cap >> 39n) & 1n).toBe(1n); // PSI
    expect((cap >> 7n) & 1n).toBe(0n); // CM=0: real hardware
    expect(ecap & 3n).toBe(3n); // C, QI
    expect((ecap >> 43n) & 1n).toBe(1n); // SMTS
    expect((ecap >> 40n) & 1n).toBe(1n); // PASID
  });
});

describe('invalidation descriptors', () => {
  test('the driver encoders decode to what they mean', () => {
    const drain = { dr: true, dw: true };
    expect(decodeDescriptor(descCc(5, 0x0210, 3, 3), true)).toEqual({
      type: 'cc',
      g: 3,
      did: 5,
      sid: 0x210,
      fm: 3,
    });
    expect(decodeDescriptor(descIotlb(7, 0x20_0000n, true, 9, 3, drain), true)).toEqual({
      type: 'iotlb',
      g: 3,
      did: 7,
      dr: true,
      dw: true,
      am: 9,
      ih: true,
      addr: 0x20_0000n,
    });
    expect(decodeDescriptor(descPiotlb(9, 0x1234, 0x8000n, 2n, false), true)).toMatchObject({
      type: 'p_iotlb',
      g: 3,
      did: 9,
      pasid: 0x1234,
      am: 1,
      addr: 0x8000n,
    });
    expect(decodeDescriptor(descPiotlb(9, 3, 0n, -1n, false), true)).toMatchObject({ type: 'p_iotlb', g: 2 });
    expect(decodeDescriptor(descPc(4, 77, 1), true)).toEqual({ type: 'pc', g: 1, did: 4, pasid: 77 });
    expect(decodeDescriptor(descWait(2, 0x4004n), true)).toEqual({
      type: 'inv_wait',
      iflag: false,
      sw: true,
      fn: false,
      pd: false,
      statusData: 2,
      statusAddr: 0x4004n,
    });
    expect(decodeDescriptor(descDevIotlb(0x300, 0x300, 32, 0x4000n, 0), true)).toMatchObject({
      type: 'dev_tlb',
      sid: 0x300,
      pfsid: 0x300,
      s: false,
      addr: 0x4000n,
    });
    expect(decodeDescriptor(descDevIotlbPasid(0x300, 0x300, 9, 32, 0x8000n, 1), true)).toMatchObject({
      type: 'p_dev_tlb',
      sid: 0x300,
      pasid: 9,
      s: true,
    });
    expect(decodeDescriptor(descPageResponse(0x300, 5, 0x1ff, 0xf, true), true)).toMatchObject({
      type: 'pgrp_resp',
      rid: 0x300,
      pasid: 5,
      pasidPresent: true,
      prgIndex: 0x1ff,
      code: 0xf,
      lpig: true,
    });
  });

  test('ATS size encoding: S=0 one page; lowest clear bit gives the size; all ones is everything', () => {
    expect(atsRange(0x5000n, false)).toEqual({ start: 0x5000n, size: 0x1000n });
    expect(atsRange(0x4000n, true)).toEqual({ start: 0x4000n, size: 0x2000n });
    expect(atsRange(0x4000n | 0x1000n, true)).toEqual({ start: 0x4000n, size: 0x4000n });
    const [, qw1] = descDevIotlb(1, 1, 0, 0n, 52);
    expect(atsRange(qw1 & ~0xfffn, true)).toEqual({ start: 0n, size: 1n << 64n });
    const [, pqw1] = descDevIotlbPasid(1, 1, 1, 0, 0x20_0000n, 9);
    expect(atsRange(pqw1 & ~0xfffn, (pqw1 & (1n << 11n)) !== 0n)).toEqual({
      start: 0x20_0000n,
      size: 0x20_0000n,
    });
  });

  test('PSI range: 2^AM pages, aligned down', () => {
    expect(psiRange(0x7000n, 2)).toEqual({ start: 0x4000n, size: 0x4000n });
  });

  test('calculate_psi_aligned_address covers unaligned ranges with a wider mask', () => {
    expect(calculatePsiAlignedAddress(0x1000n, 0x2fffn)).toEqual({ addr: 0n, pages: 4n, mask: 2 });
    expect(calculatePsiAlignedAddress(0x4000n, 0x7fffn)).toEqual({ addr: 0x4000n, pages: 4n, mask: 2 });
    expect(calculatePsiAlignedAddress(0n, 0xfffn)).toEqual({ addr: 0n, pages: 1n, mask: 0 });
  });

  test('illegal descriptors: unknown type, reserved bits, reserved granularity, width', () => {
    expect(decodeDescriptor([0xbn, 0n], true)).toEqual({ iqei: 3 });
    expect(decodeDescriptor([0x0n, 0n], true)).toEqual({ iqei: 3 });
    expect(decodeDescriptor([descCc(0, 0, 0, 1)[0] | (1n << 60n), 0n], true)).toEqual({ iqei: 3 });
    expect(decodeDescriptor([descCc(0, 0, 0, 0)[0], 0n], true)).toEqual({ iqei: 3 });
    expect(decodeDescriptor([descPc(0, 0, 2)[0], 0n], true)).toEqual({ iqei: 3 });
    expect(decodeDescriptor([descWait(1, 0x1000n)[0], 0x1001n], true)).toEqual({ iqei: 3 });
    expect(decodeDescriptor([...descPc(1, 1, 1).slice(0, 2), 1n, 0n], true)).toEqual({ iqei: 3 });
    expect(decodeDescriptor(descPc(1, 1, 1), false)).toEqual({ iqei: 4 });
  });
});

describe('fault record and page request formats', () => {
  prop.prop(
    [
      fc.record({
        fr: u(8),
        sid: u(16),
        pasid: fc.option(u(20), { nil: undefined }),
        addr,
        write: fc.boolean(),
      }),
    ],
    { numRuns: 50 },
  )('FRCD round trip; F set', (f) => {
    const [lo, hi] = encodeFrcd(f);
    expect(decodeFrcd(lo, hi)).toEqual({ ...f, f: true });
    // Linux reads FR from the dword at +12 (bits 103:96) and SID from +8.
    expect(Number((hi >> 32n) & 0xffn)).toBe(f.fr);
    expect(Number(hi & 0xffffn)).toBe(f.sid);
  });

  prop.prop(
    [
      fc.record({
        rid: u(16),
        pasid: fc.option(u(20), { nil: undefined }),
        addr,
        read: fc.boolean(),
        write: fc.boolean(),
        exec: fc.boolean(),
        priv: fc.boolean(),
        lpig: fc.boolean(),
        prgIndex: u(9),
      }),
    ],
    { numRuns: 50 },
  )('page_req_dsc round trip', (r) => {
    const [q0, q1] = encodePageReq(r);
    expect(decodePageReq(q0, q1)).toEqual(r);
  });
});
