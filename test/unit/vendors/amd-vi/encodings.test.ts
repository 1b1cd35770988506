import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import {
  buildCompletePpr,
  buildCompletionWait,
  buildInvAddress,
  buildInvAll,
  buildInvDte,
  buildInvIommuPages,
  buildInvIotlbPages,
  decodeInvRange,
  hasReservedBits,
} from '../../../../vendors/amd-vi/commands.ts';
import {
  CLEAR_DTE,
  type Dte,
  decodeDte,
  dteReservedViolation,
  encodeDte,
} from '../../../../vendors/amd-vi/dte.ts';
import { decodeEvent, decodePpr, encodeEvent, encodePpr } from '../../../../vendors/amd-vi/events.ts';
import {
  encodeLeaf,
  encodePde,
  largePageLog2,
  leafAddress,
  leafLevel,
  replicaCount,
} from '../../../../vendors/amd-vi/v1-pte.ts';
import { encodeV2Leaf, encodeV2Pde } from '../../../../vendors/amd-vi/v2-pte.ts';

const dteArb: fc.Arbitrary<Dte> = fc.record({
  v: fc.boolean(),
  tv: fc.boolean(),
  had: fc.integer({ min: 0, max: 3 }),
  mode: fc.integer({ min: 0, max: 7 }),
  hostRoot: fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }).map((p) => p << 12n),
  ppr: fc.boolean(),
  giov: fc.boolean(),
  gv: fc.boolean(),
  glx: fc.integer({ min: 0, max: 3 }),
  gcr3Root: fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }).map((p) => p << 12n),
  ir: fc.boolean(),
  iw: fc.boolean(),
  domainId: fc.integer({ min: 0, max: 0xffff }),
  ats: fc.boolean(),
  guestPagingMode: fc.integer({ min: 0, max: 3 }),
});

describe('DTE (256 bits)', () => {
  test('field positions as amd_iommu_types.h has them', () => {
    const q = encodeDte({
      ...CLEAR_DTE,
      mode: 4,
      hostRoot: 0x12_3456_7000n,
      ir: true,
      iw: true,
      gv: true,
      giov: true,
      ppr: true,
      glx: 2,
      had: 3,
      domainId: 0xabcd,
      ats: true,
      gcr3Root: 0xf_edcb_a987_6000n,
      guestPagingMode: 1,
    });
    const g = 0xf_edcb_a987_6000n;
    expect(q[0]).toBe(
      3n |
        (3n << 7n) |
        (4n << 9n) |
        0x12_3456_7000n |
        (1n << 52n) |
        (1n << 54n) |
        (1n << 55n) |
        (2n << 56n) |
        (((g >> 12n) & 7n) << 58n) |
        (1n << 61n) |
        (1n << 62n),
    );
    expect(q[1]).toBe(0xabcdn | (((g >> 15n) & 0xffffn) << 16n) | (1n << 32n) | ((g >> 31n) << 43n));
    expect(q[2]).toBe(1n << 54n);
    expect(q[3]).toBe(0n);
    expect(encodeDte(CLEAR_DTE)).toEqual([3n, 0n, 0n, 0n]);
  });

  prop.prop([dteArb], { numRuns: 200 })('decode(encode(dte)) is the DTE', (dte) => {
    expect(decodeDte(encodeDte(dte))).toEqual(dte);
    expect(dteReservedViolation(encodeDte(dte))).toBe(-1);
  });

  test('reserved bits are found per qword', () => {
    expect(dteReservedViolation([3n | (1n << 4n), 0n, 0n, 0n])).toBe(0);
    expect(dteReservedViolation([3n, 0n, 1n << 52n, 0n])).toBe(2);
    expect(dteReservedViolation([3n, 0n, 0n, 1n])).toBe(3);
  });
});

describe('v1 page-table entries', () => {
  test('PDE and leaves as Linux writes them', () => {
    expect(encodePde(3, 0x5000n)).toBe(0x6000_0000_0000_5601n);
    expect(encodeLeaf(0x20_0000n, 21, true, true)).toBe(0x7000_0000_0020_0001n);
    expect(encodeLeaf(0x1000n, 12, true, false)).toBe(0x3000_0000_0000_1001n);
    // 64 KiB: NextLevel 7, address | 0xffff with bit 15 clear, replicated 16 times at level 1.
    const pte = encodeLeaf(0x1_0000n, 16, true, false);
    expect(pte).toBe(0x3000_0000_0001_7e01n);
    expect(largePageLog2(pte)).toBe(16);
    expect(leafAddress(pte, 16)).toBe(0x1_0000n);
    expect([leafLevel(12), leafLevel(16), leafLevel(21), leafLevel(30), leafLevel(40)]).toEqual([
      1, 1, 2, 3, 4,
    ]);
    expect([replicaCount(12), replicaCount(16), replicaCount(21), replicaCount(29)]).toEqual([1, 16, 1, 256]);
  });

  prop.prop(
    [
      fc.integer({ min: 13, max: 51 }).filter((l) => (l - 12) % 9 !== 0),
      fc.bigInt({ min: 0n, max: 1n << 20n }),
    ],
    {
      numRuns: 100,
    },
  )('a NextLevel-7 page decodes to its size and address', (log2, frame) => {
    const pa = (frame << BigInt(log2)) & ((1n << 52n) - 1n);
    const pte = encodeLeaf(pa, log2, true, true);
    expect(largePageLog2(pte)).toBe(log2);
    expect(leafAddress(pte, log2)).toBe(pa);
  });

  test('v2 (x86) entries: PDE attributes, leaves with PS above level 1', () => {
    expect(encodeV2Pde(0x7000n)).toBe(0x7067n);
    expect(encodeV2Leaf(0x20_0000n, 2, true)).toBe(0x20_00e7n);
    expect(encodeV2Leaf(0x3000n, 1, false)).toBe(0x3065n);
  });
});

describe('commands (16 bytes, opcode in word 1 31:28)', () => {
  test('the words amd_iommu builds', () => {
    expect(buildCompletionWait(0x1234_5678_9ab8n, 0x1122_3344_5566_7788n)).toEqual([
      0x5678_9ab9, 0x1000_1234, 0x5566_7788, 0x1122_3344,
    ]);
    expect(buildCompletionWait(0x1000n, 1n, { store: false, irq: true })).toEqual([
      0x1002, 0x1000_0000, 1, 0,
    ]);
    expect(buildInvDte(0x300)).toEqual([0x300, 0x2000_0000, 0, 0]);
    expect(buildInvIommuPages(5, undefined, 0x1_0000n, 0x1000n)).toEqual([0, 0x3000_0005, 0x1_0002, 0]);
    expect(buildInvIommuPages(5, undefined, 0x1_0000n, 0x1_0000n)).toEqual([0, 0x3000_0005, 0x1_7003, 0]);
    expect(buildInvIommuPages(1, 0x12345, 0n, (1n << 64n) - 1n)).toEqual([
      0x12345, 0x3000_0001, 0xffff_f007, 0x7fff_ffff,
    ]);
    expect(buildInvIotlbPages(0x300, 0x20, 0n, 0x1000n, 0x1234)).toEqual([0x2012_0300, 0x4034_0300, 4, 0]);
    expect(buildCompletePpr(0x300, 7, 0xf, 0x1ab)).toEqual([0x300, 0x7000_0007, 4, 0xf1ab]);
    expect(buildInvAll()).toEqual([0, 0x8000_0000, 0, 0]);
  });

  test('reserved bits and unknown opcodes', () => {
    expect(hasReservedBits(buildInvDte(1))).toBe(false);
    expect(hasReservedBits([0x1_0001, 0x2000_0000, 0, 0])).toBe(true);
    expect(hasReservedBits([0, 0x9000_0000, 0, 0])).toBe(true);
    expect(hasReservedBits([0, 0x0000_0000, 0, 0])).toBe(true);
  });

  test('S=0 is one page; S=1 sizes by the first zero bit; the all-pages address covers everything', () => {
    expect(decodeInvRange(0x5000n)).toEqual({ start: 0x5000n, size: 0x1000n });
    expect(decodeInvRange(0x4001n)).toEqual({ start: 0x4000n, size: 0x2000n });
    expect(decodeInvRange(0x1_7001n)).toEqual({ start: 0x1_0000n, size: 0x1_0000n });
    expect(decodeInvRange(0x7fff_ffff_ffff_f001n)).toEqual({ start: 0n, size: 1n << 64n });
  });

  prop.prop([fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), fc.bigInt({ min: 1n, max: 1n << 40n })], {
    numRuns: 200,
  })('build_inv_address covers the range with one naturally aligned power of two', (address, size) => {
    const { start, size: got } = decodeInvRange(buildInvAddress(address, size));
    expect(start <= address).toBe(true);
    expect(start + got >= address + size).toBe(true);
    expect(start % got).toBe(0n);
  });
});

describe('event and PPR log entries', () => {
  test('IO_PAGE_FAULT word layout', () => {
    const w = encodeEvent({ type: 2, devid: 0x300, tag: 0x5_0005, flags: 0x20, address: 0x1_2345_6000n });
    expect(w).toEqual([0x5_0300, 0x2020_0005, 0x2345_6000, 1]);
  });

  prop.prop(
    [
      fc.record({
        type: fc.integer({ min: 0, max: 15 }),
        devid: fc.integer({ min: 0, max: 0xffff }),
        tag: fc.integer({ min: 0, max: 0xfffff }),
        flags: fc.integer({ min: 0, max: 0xfff }),
        address: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      }),
    ],
    { numRuns: 100 },
  )('event decode(encode(e)) is e', (e) => {
    expect(decodeEvent(encodeEvent(e))).toMatchObject(e);
  });

  prop.prop(
    [
      fc.record({
        devid: fc.integer({ min: 0, max: 0xffff }),
        pasid: fc.integer({ min: 0, max: 0xfffff }),
        tag: fc.integer({ min: 0, max: 0x3ff }),
        flags: fc.integer({ min: 0, max: 0xfff }),
        type: fc.integer({ min: 0, max: 15 }),
        address: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      }),
    ],
    { numRuns: 100 },
  )('PPR decode(encode(p)) is p', (p) => {
    const [q0, q1] = encodePpr(p);
    expect(decodePpr(q0, q1)).toEqual(p);
  });

  test('PPR bit positions: PASID 15:0 at 31:16, 19:16 at 45:42, tag 41:32, type 63:60', () => {
    const [q0] = encodePpr({ devid: 1, pasid: 0xa_bcde, tag: 0x2ff, flags: 0x4, type: 1, address: 0n });
    expect(q0).toBe(1n | (0xbcden << 16n) | (0x2ffn << 32n) | (0xan << 42n) | (4n << 48n) | (1n << 60n));
  });
});
