import { fc } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { availableVendors, MOCK_APERTURE_START } from '../../index.ts';
import {
  DEFAULT_IOVA_EDGES,
  deliveryPlanArb,
  hwptFlagsArb,
  iovaPickArb,
  lengthArb,
  mapFlagsArb,
  pageSizeArb,
  pasidArb,
  resolveIova,
  topologyArb,
  U64_MAX,
  vendorArb,
} from '../../props/index.ts';

const sample = <T>(arb: fc.Arbitrary<T>, numRuns = 200) => fc.sample(arb, { numRuns, seed: 1 });

describe('arbitraries', () => {
  test('topologies are well formed: unique names, groups within one IOMMU, vendors as asked', () => {
    for (const t of sample(topologyArb({ vendors: ['mock'], maxHosts: 2, maxDevices: 4 }))) {
      const names = t.hosts.flatMap((h) => [
        ...h.devices.map((d) => d.name),
        ...h.processes.map((p) => p.name),
      ]);
      expect(new Set(names).size).toBe(names.length);
      for (const h of t.hosts) {
        expect(h.iommus.every((i) => i.vendor === 'mock')).toBe(true);
        const iommuOf = new Map<string, string>();
        for (const d of h.devices) {
          expect(iommuOf.get(d.group) ?? d.iommu).toBe(d.iommu);
          iommuOf.set(d.group, d.iommu);
        }
      }
    }
  });

  test('topologies include multi-device groups and PASID/ATS/PRI devices', () => {
    const all = sample(topologyArb()).flatMap((t) => t.hosts);
    expect(all.some((h) => new Set(h.devices.map((d) => d.group)).size < h.devices.length)).toBe(true);
    const devices = all.flatMap((h) => h.devices);
    expect(devices.some((d) => d.pasidBits > 0 && d.ats && d.pri)).toBe(true);
  });

  test('constraints are validated', () => {
    expect(() => topologyArb({ vendors: [] })).toThrow(/at least one vendor/);
    expect(() => topologyArb({ maxDevices: 0 })).toThrow(/at least 1/);
    expect(() => pasidArb({ widthBits: 21 })).toThrow(/widthBits/);
    expect(() => pageSizeArb({ sizes: [] })).toThrow(/at least one size/);
    expect(() => iovaPickArb({ edges: [] })).toThrow(/at least one edge/);
  });

  test('IOVA picks favour the edges and resolve against live state', () => {
    const picks = sample(iovaPickArb(), 500);
    expect(picks.some((p) => p.kind === 'abs' && p.iova === U64_MAX)).toBe(true);
    expect(picks.some((p) => p.kind === 'abs' && p.iova === 0n)).toBe(true);
    const ctx = {
      areas: [{ iova: 0x100_0000n, length: 0x2000n }],
      usable: [{ start: 0x100_0000n, last: 0x7fff_ffffn }],
      unmapped: [{ iova: 0x200_0000n, length: 0x1000n }],
    };
    expect(resolveIova({ kind: 'area', pos: 0, edge: 'past', delta: 0n }, ctx)).toBe(0x100_2000n);
    expect(resolveIova({ kind: 'area', pos: 9, edge: 'end', delta: 0n }, ctx, 0x1000n)).toBe(0x100_1000n);
    expect(resolveIova({ kind: 'usable', pos: 0, edge: 'end', delta: 0n }, ctx, 0x1000n)).toBe(0x7fff_f000n);
    expect(resolveIova({ kind: 'unmapped', pos: 3, delta: -4n }, ctx)).toBe(0x1ff_fffcn);
    expect(resolveIova({ kind: 'abs', iova: 0n }, ctx)).toBe(0n);
    expect(
      resolveIova(
        { kind: 'usable', pos: 0, edge: 'start', delta: -1n },
        { ...ctx, usable: [{ start: 0n, last: 1n }] },
      ),
    ).toBe(U64_MAX);
    expect(DEFAULT_IOVA_EDGES).toContain(BigInt(MOCK_APERTURE_START));
  });

  test('lengths are mostly page multiples, sometimes degenerate', () => {
    const lengths = sample(lengthArb(), 500);
    expect(lengths.filter((l) => l % 0x800n === 0n && l > 0n).length).toBeGreaterThan(400);
    expect(lengths).toContain(0n);
  });

  test('flags, PASIDs, page sizes, vendors and delivery plans stay in range', () => {
    expect(sample(mapFlagsArb({ invalid: false })).every((f) => f !== 0 && (f & ~6) === 0)).toBe(true);
    expect(sample(hwptFlagsArb({ invalid: false })).every((f) => (f & ~0xb) === 0)).toBe(true);
    expect(sample(pasidArb({ widthBits: 4 })).every((p) => p >= 1 && (p <= 16 || p === 1024))).toBe(true);
    expect(sample(pageSizeArb()).every((s) => (s & (s - 1n)) === 0n)).toBe(true);
    expect(sample(vendorArb()).every((v) => availableVendors().includes(v))).toBe(true);
    expect(
      sample(deliveryPlanArb({ maxLength: 3, maxPick: 2 })).every(
        (p) => p.length <= 3 && p.every((x) => x <= 2),
      ),
    ).toBe(true);
  });
});
