import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import {
  CTX_HI_RSVD,
  CTX_LO_RSVD,
  PASID_RSVD,
  PDE_RSVD,
  ROOT_RSVD,
} from '../../../../vendors/intel-vtd/entries.ts';
import { FR } from '../../../../vendors/intel-vtd/fault-reasons.ts';
import { PTE_ABOVE_HAW } from '../../../../vendors/intel-vtd/pte.ts';
import { attachedDomain, vtdFarm } from './helpers.ts';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

/** Where each structure of the attached device lives, and what a reserved-bit error there reports. */
async function tables() {
  const env = vtdFarm({ pasidBits: 8 });
  const { domain, iova } = await attachedDomain(env);
  await env.farm.settle();
  const info = env.driver.probe(env.dev.ref);
  const root = env.driver.rootTable + 2n * 16n;
  const ctx = (env.phys.readU64(root) & ~0xfffn) + 0n;
  const pde = info.dirPa;
  const pasid = info.entryPa(0)!;
  const pte = domain.pt.lookup(iova)!.ptePa;
  const invalidateAll = () => {
    env.hw.translator.contextCache.clear();
    env.hw.translator.pasidCache.clear();
    env.hw.iotlb.invalidateAll();
  };
  return { env, iova, root, ctx, pde, pasid, pte, invalidateAll };
}

/** A present entry with at least one reserved bit (from `rsvd`) set. */
const withReserved = (rsvd: bigint) =>
  fc
    .tuple(u64, fc.integer({ min: 0, max: 63 }))
    .filter(([, b]) => ((rsvd >> BigInt(b)) & 1n) === 1n)
    .map(([v, b]) => v | 1n | (1n << BigInt(b)));

describe('malformed translation structures', () => {
  test.prop(
    [
      fc.oneof(
        withReserved(ROOT_RSVD | PTE_ABOVE_HAW).map((v) => ({
          at: 'root' as const,
          word: 0,
          v,
          fr: FR.ROOT_RSVD,
        })),
        withReserved(CTX_LO_RSVD | PTE_ABOVE_HAW).map((v) => ({
          at: 'ctx' as const,
          word: 0,
          v,
          fr: FR.CTX_RSVD,
        })),
        u64
          .filter((v) => (v & CTX_HI_RSVD) !== 0n)
          .map((v) => ({ at: 'ctx' as const, word: 1, v, fr: FR.CTX_RSVD })),
        withReserved(PDE_RSVD | PTE_ABOVE_HAW).map((v) => ({
          at: 'pde' as const,
          word: 0,
          v,
          fr: FR.PDE_RSVD,
        })),
        withReserved(PASID_RSVD[0]!).map((v) => ({ at: 'pasid' as const, word: 0, v, fr: FR.PTE_RSVD })),
        fc
          .integer({ min: 3, max: 7 })
          .chain((word) =>
            u64.filter((v) => v !== 0n).map((v) => ({ at: 'pasid' as const, word, v, fr: FR.PTE_RSVD })),
          ),
        withReserved(PTE_ABOVE_HAW).map((v) => ({ at: 'pte' as const, word: 0, v, fr: FR.FS_RSVD })),
      ),
    ],
    { numRuns: 35 },
  )("a reserved bit in a present entry is that level's configuration fault, recorded", async (c) => {
    const t = await tables();
    const pasidWord0 = t.env.phys.readU64(t.pasid);
    // FPD (bit 1 of context, directory and PASID entries) would only suppress the record.
    t.env.phys.writeU64(t[c.at] + BigInt(c.word * 8), c.at === 'root' || c.word !== 0 ? c.v : c.v & ~2n);
    // A reserved bit in PASID val[0] must leave P set (the entry is present but malformed).
    if (c.at === 'pasid' && c.word !== 0) t.env.phys.writeU64(t.pasid, pasidWord0);
    t.invalidateAll();
    const r = await t.env.dev.dma({ op: 'read', iova: t.iova, length: 4 });
    expect(r.ok).toBe(false);
    if (r.ok || r.fault.vendor !== 'intel-vtd') throw new Error('expected a VT-d fault');
    // A PTE whose address bits reach past the HAW faults at that level; earlier levels keep their code.
    expect(r.fault.record).toMatchObject({ fr: c.fr, recorded: 'yes' });
  });

  test.prop(
    [
      fc.constantFrom('root', 'ctx', 'pde', 'pasid', 'pte'),
      fc.integer({ min: 0, max: 7 }),
      u64,
      fc.boolean(),
    ],
    { numRuns: 40 },
  )(
    'any word anywhere: the DMA completes or faults, never throws, never bypasses',
    async (at, word, v, write) => {
      const t = await tables();
      const span = at === 'pasid' ? 8 : at === 'ctx' ? 4 : at === 'root' ? 2 : 1;
      t.env.phys.writeU64(t[at] + BigInt((word % span) * 8), v);
      t.invalidateAll();
      const r = await t.env.dev.dma({ op: write ? 'write' : 'read', iova: t.iova, length: 4 });
      if (!r.ok) {
        expect(['intel-vtd', 'farm']).toContain(r.fault.vendor);
        return;
      }
      // A success went through a present PASID entry that still translates this IOVA somewhere.
      expect(t.env.hw.translator.pasidCache.size).toBe(1);
    },
  );
});
