import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { DEFINED, decodeDescriptor } from '../../../../vendors/intel-vtd/descriptors.ts';
import { KIND_FS } from '../../../../vendors/intel-vtd/iotlb.ts';
import { descDevIotlb, descIotlb, descPc, descWait } from '../../../../vendors/intel-vtd/qi-encode.ts';
import { DMA_FSTS_IQE, DMAR_FSTS_REG, DMAR_IQH_REG } from '../../../../vendors/intel-vtd/regs.ts';
import { atsEndpoint, bareVtd, Ring } from './helpers.ts';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

/** A descriptor that is illegal for a known reason: unknown type, or a reserved bit set. */
const garbage = fc.oneof(
  fc
    .tuple(fc.constantFrom(0, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf), u64, u64)
    .map(([type, q0, q1]) => [(q0 & ~0xfn) | BigInt(type), q1, 0n, 0n]),
  fc
    .tuple(fc.integer({ min: 1, max: 9 }), u64, u64, fc.integer({ min: 0, max: 127 }))
    .filter(([type, , , bit]) => {
      const [d0, d1] = DEFINED[type]!;
      return bit < 64 ? ((d0 >> BigInt(bit)) & 1n) === 0n : ((d1 >> BigInt(bit - 64)) & 1n) === 0n;
    })
    .map(([type, q0, q1, bit]) => {
      const [d0, d1] = DEFINED[type]!;
      const w0 = (q0 & d0 & ~0xfn) | BigInt(type) | (bit < 64 ? 1n << BigInt(bit) : 0n);
      const w1 = (q1 & d1) | (bit >= 64 ? 1n << BigInt(bit - 64) : 0n);
      return [w0, w1, 0n, 0n];
    }),
  fc
    .tuple(fc.integer({ min: 1, max: 8 }), u64)
    .map(([type, q2]) => [BigInt(type) | (1n << 4n), 0n, q2 | 1n, 0n]),
);

/** A unit with warm caches, an ATS endpoint with an ATC entry, and a 256-bit queue. */
function warm() {
  const e = bareVtd();
  const ring = new Ring(e.hw, e.phys);
  const status = e.phys.allocPage() << 12n;
  const leaf = {
    pa: 0x5000n,
    size: 4096n,
    read: true,
    write: true,
    exec: true,
    user: true,
    ptePa: 0n,
    dirty: true,
  };
  e.hw.iotlb.fill(2, 0, 0x1000n, leaf, KIND_FS, true, 0);
  const atc = atsEndpoint(e.hw, 0x0300);
  atc.fill(undefined, 0x1000n, { pa: 0x5000n, pageSize: 4096n, read: true, write: true, filledAt: 0 });
  return { ...e, ring, status, atc };
}

describe('garbage in the invalidation queue', () => {
  test.prop([fc.array(fc.constantFrom('pc', 'wait'), { maxLength: 4 }), garbage], { numRuns: 50 })(
    'halts with IQE at the bad entry; nothing after it runs and nothing else is touched',
    async (prefix, bad) => {
      const e = warm();
      let statusOff = 0n;
      for (const p of prefix) {
        e.ring.put(p === 'pc' ? descPc(9, 9, 1) : descWait(1, e.status + statusOff));
        statusOff += 4n;
      }
      const badIndex = e.ring.put(bad);
      e.ring.put(descIotlb(0, 0n, false, 0, 1, { dr: false, dw: false }));
      e.ring.put(descDevIotlb(0x300, 0x300, 0, 0n, 52));
      e.ring.put(descWait(7, e.status + 0x100n));
      e.ring.doorbell();
      await e.farm.settle();
      expect(e.hw.regs.read32(DMAR_FSTS_REG)).toBe(DMA_FSTS_IQE);
      expect(Number(e.hw.regs.read64(DMAR_IQH_REG) >> 5n)).toBe(badIndex);
      for (let i = 0n; i < statusOff; i += 4n) {
        expect(e.phys.readU32(e.status + i)).toBe(prefix[Number(i / 4n)] === 'wait' ? 1 : 0);
      }
      expect(e.phys.readU32(e.status + 0x100n)).toBe(0);
      expect(e.hw.iotlb.size).toBe(1);
      expect(e.atc.size).toBe(1);
      expect(e.hw.faults.recorded).toBe(0);
      expect(e.qiActor.getSnapshot()).toMatchObject({
        value: 'halted',
        context: { error: 'IQE', errorIndex: badIndex },
      });
    },
  );

  test.prop([fc.array(fc.tuple(u64, u64, u64, u64), { minLength: 1, maxLength: 6 }), fc.boolean()], {
    numRuns: 50,
  })(
    'random 16/32-byte entries: the queue stops at the first illegal one, never crashes',
    async (entries, dw) => {
      const e = bareVtd();
      const ring = new Ring(e.hw, e.phys, dw);
      const words = entries.map((w) => (dw ? w : [w[0], w[1]]));
      for (const w of words) ring.put(w);
      ring.doorbell();
      await e.farm.settle();
      const firstBad = words.findIndex((w) => 'iqei' in decodeDescriptor(w, dw));
      const fsts = e.hw.regs.read32(DMAR_FSTS_REG);
      if (firstBad < 0) {
        expect(fsts & DMA_FSTS_IQE).toBe(0);
      } else {
        expect(fsts & DMA_FSTS_IQE).toBe(DMA_FSTS_IQE);
        expect(Number(e.hw.regs.read64(DMAR_IQH_REG) >> (dw ? 5n : 4n))).toBe(firstBad);
        expect(e.hw.qi.consumed).toBe(firstBad);
      }
    },
  );
});
