import fc from 'fast-check';
import { MOCK_APERTURE_LAST, MOCK_APERTURE_START } from '../../actors/iommufd/uapi-selftest.ts';
import { type LengthConstraints, lengthArb } from './length.ts';

export const U64_MAX = (1n << 64n) - 1n;

/**
 * IOVAs where the kernel's checks sit: 0, the mock aperture's ends, x86 and Arm MSI windows,
 * 32/48/56-bit boundaries, the last page and 2^64−1.
 */
export const DEFAULT_IOVA_EDGES: readonly bigint[] = [
  0n,
  0x800n,
  0x1000n,
  BigInt(MOCK_APERTURE_START),
  BigInt(MOCK_APERTURE_START) - 0x800n,
  BigInt(MOCK_APERTURE_LAST) + 1n,
  BigInt(MOCK_APERTURE_LAST) + 1n - 0x1000n,
  0x800_0000n,
  0xfee0_0000n,
  1n << 32n,
  1n << 48n,
  1n << 56n,
  U64_MAX - 0xfffn,
  U64_MAX,
];

/**
 * An IOVA named relative to live state, resolved when the command runs, so it stays meaningful
 * while fast-check shrinks the commands before it:
 * - `abs`: a fixed value (an edge or any u64);
 * - `area`: an edge of the live area at position `pos` of the IOAS;
 * - `usable`: an edge of the IOAS's usable hole at `pos` (apertures and reserved regions cut them);
 * - `unmapped`: an edge of a recently unmapped range (where a stale translation would show);
 * - `previous`: an edge of an area the device's previous domain mapped (before a replace moved it).
 *
 * Edges: `start` (first byte), `last` (the last page's first byte), `end` (the last `length`
 * bytes), `past` (the byte after the range).
 */
export type IovaEdge = 'start' | 'last' | 'end' | 'past';

export type IovaPick =
  | { readonly kind: 'abs'; readonly iova: bigint }
  | {
      readonly kind: 'area';
      readonly pos: number;
      readonly edge: IovaEdge;
      readonly delta: bigint;
    }
  | { readonly kind: 'usable'; readonly pos: number; readonly edge: 'start' | 'end'; readonly delta: bigint }
  | { readonly kind: 'unmapped'; readonly pos: number; readonly delta: bigint; readonly edge?: IovaEdge }
  | { readonly kind: 'previous'; readonly pos: number; readonly edge: IovaEdge; readonly delta: bigint };

export interface IovaConstraints {
  /** Relative weights of the pick kinds. @defaultValue { area: 3, usable: 2, unmapped: 2, abs: 2, previous: 0 } */
  readonly kindWeights?: Partial<Record<IovaPick['kind'], number>>;
  /** Absolute IOVAs to favour. @defaultValue DEFAULT_IOVA_EDGES */
  readonly edges?: readonly bigint[];
  /** Alignment boundaries the deltas step by. @defaultValue [0x800n, 0x1000n] */
  readonly granules?: readonly bigint[];
}

/** Where the live state is, for resolving picks. */
export interface IovaContext {
  readonly areas: ReadonlyArray<{ readonly iova: bigint; readonly length: bigint }>;
  readonly usable: ReadonlyArray<{ readonly start: bigint; readonly last: bigint }>;
  readonly unmapped: ReadonlyArray<{ readonly iova: bigint; readonly length: bigint }>;
  /** Areas the device's previous domain mapped. */
  readonly previous?: ReadonlyArray<{ readonly iova: bigint; readonly length: bigint }>;
}

/** A small signed offset: 0 mostly, else ±1 byte or ± a granule. */
export function deltaArb(
  granules: readonly bigint[] = [0x800n, 0x1000n],
  zeroWeight = 4,
): fc.Arbitrary<bigint> {
  const steps = [1n, 4n, ...granules];
  return fc.oneof(
    { weight: zeroWeight, arbitrary: fc.constant(0n) },
    { weight: 1, arbitrary: fc.constantFrom(...steps, ...steps.map((s) => -s)) },
  );
}

export function iovaPickArb(constraints: IovaConstraints = {}): fc.Arbitrary<IovaPick> {
  const { edges = DEFAULT_IOVA_EDGES, granules = [0x800n, 0x1000n] } = constraints;
  if (edges.length === 0) throw new Error('iovaPickArb needs at least one edge');
  const wt = { area: 3, usable: 2, unmapped: 2, abs: 2, previous: 0, ...constraints.kindWeights };
  const delta = deltaArb(granules);
  const pos = fc.oneof(fc.constant(0), fc.nat({ max: 7 }));
  // Off-by-one bugs in range invalidation lose the tail: the last page and the page after are
  // picked as often as the start.
  const edge = fc.oneof(
    { weight: 2, arbitrary: fc.constant('start' as const) },
    { weight: 2, arbitrary: fc.constant('last' as const) },
    { weight: 1, arbitrary: fc.constantFrom('end' as const, 'past' as const) },
  );
  const kinds: Array<fc.WeightedArbitrary<IovaPick>> = [
    {
      weight: wt.area,
      arbitrary: fc.record({ kind: fc.constant('area' as const), pos, edge, delta }),
    },
    {
      weight: wt.usable,
      arbitrary: fc.record({
        kind: fc.constant('usable' as const),
        pos,
        edge: fc.constantFrom('start' as const, 'end' as const),
        delta,
      }),
    },
    {
      weight: wt.unmapped,
      arbitrary: fc.record({ kind: fc.constant('unmapped' as const), pos, delta, edge }),
    },
    {
      weight: wt.previous,
      arbitrary: fc.record({ kind: fc.constant('previous' as const), pos, edge, delta }),
    },
    {
      weight: wt.abs,
      arbitrary: fc.record({
        kind: fc.constant('abs' as const),
        iova: fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom(...edges) },
          { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: U64_MAX }) },
        ),
      }),
    },
  ];
  return fc.oneof(...kinds.filter((k) => k.weight > 0));
}

/** The IOVA at an edge of [iova, iova+length) for an access of `size` bytes. */
function edgeOf(r: { iova: bigint; length: bigint }, edge: IovaEdge, size: bigint): bigint {
  switch (edge) {
    case 'start':
      return r.iova;
    case 'last':
      return r.iova + r.length - (r.length > 0x1000n ? 0x1000n : r.length);
    case 'end':
      return r.iova + r.length - size;
    case 'past':
      return r.iova + r.length;
  }
}

/** A range: a pick for its start and a length. */
export function iovaRangeArb(constraints: IovaConstraints & LengthConstraints = {}) {
  return fc.record({ iova: iovaPickArb(constraints), length: lengthArb(constraints) });
}

/** The concrete IOVA of a pick (wrapping inside u64). */
export function resolveIova(pick: IovaPick, ctx: IovaContext, length = 0n): bigint {
  const wrap = (v: bigint) => ((v % (U64_MAX + 1n)) + U64_MAX + 1n) % (U64_MAX + 1n);
  switch (pick.kind) {
    case 'abs':
      return pick.iova;
    case 'area': {
      const a = ctx.areas[pick.pos % Math.max(1, ctx.areas.length)];
      if (!a) return wrap(BigInt(MOCK_APERTURE_START) + pick.delta);
      return wrap(edgeOf(a, pick.edge, length) + pick.delta);
    }
    case 'usable': {
      const u = ctx.usable[pick.pos % Math.max(1, ctx.usable.length)];
      if (!u) return wrap(pick.delta);
      return wrap((pick.edge === 'start' ? u.start : u.last + 1n - length) + pick.delta);
    }
    case 'unmapped': {
      const r = ctx.unmapped[pick.pos % Math.max(1, ctx.unmapped.length)];
      return wrap((r ? edgeOf(r, pick.edge ?? 'start', length) : BigInt(MOCK_APERTURE_START)) + pick.delta);
    }
    case 'previous': {
      const prev = ctx.previous ?? [];
      const r = prev[pick.pos % Math.max(1, prev.length)] ?? ctx.unmapped[0] ?? ctx.areas[0];
      return wrap((r ? edgeOf(r, pick.edge, length) : BigInt(MOCK_APERTURE_START)) + pick.delta);
    }
  }
}
