import { Rng } from '../../actors/runtime/rng.ts';

export const U32_MAX = 0xffff_ffff;
export const U64_MAX = (1n << 64n) - 1n;

/** Values on the edges the kernel checks: 0, 1, -1, 2^31, 2^32-1, 2^63, 2^64-1 and neighbours. */
const U64_EDGES = [
  0n,
  1n,
  0x7ffn,
  0x800n,
  0xfffn,
  0x1000n,
  0x1001n,
  0x200000n,
  1n << 31n,
  (1n << 32n) - 1n,
  1n << 32n,
  1n << 47n,
  1n << 63n,
  U64_MAX - 0xfffn,
  U64_MAX - 1n,
  U64_MAX,
];
const U32_EDGES = [0, 1, 2, 3, 7, 8, 0x7fff_ffff, 0x8000_0000, U32_MAX - 1, U32_MAX];

/** The fuzzer's random source: the farm's seeded PRNG with helpers for picking and edges. */
export class Dice {
  readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.rng.nextU32() / 2 ** 32 < p;
  }

  int(n: number): number {
    return n <= 0 ? 0 : this.rng.below(n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** A weighted choice among `[weight, value]` pairs. */
  weighted<T>(xs: ReadonlyArray<readonly [number, T]>): T {
    const total = xs.reduce((s, [w]) => s + w, 0);
    let r = this.int(total);
    for (const [w, v] of xs) {
      if (r < w) return v;
      r -= w;
    }
    return xs[xs.length - 1]![1];
  }

  u32(): number {
    return this.rng.nextU32();
  }

  u64(): bigint {
    return (BigInt(this.rng.nextU32()) << 32n) | BigInt(this.rng.nextU32());
  }

  edgeU32(): number {
    return this.chance(0.7) ? this.pick(U32_EDGES) : this.u32();
  }

  edgeU64(): bigint {
    return this.chance(0.7) ? this.pick(U64_EDGES) : this.u64();
  }

  /** Mostly `good`, sometimes an edge value (the "bad input" half of every field). */
  maybe<T extends number | bigint>(good: T, p = 0.1): T {
    if (!this.chance(p)) return good;
    return (typeof good === 'bigint' ? this.edgeU64() : this.edgeU32()) as T;
  }

  /** A page-granular length of 1..`pages` pages, sometimes unaligned or an edge. */
  length(pages: number, page = 4096n): bigint {
    const n = BigInt(1 + this.int(pages)) * page;
    if (this.chance(0.05)) return n + BigInt(1 + this.int(0xfff));
    return this.maybe(n, 0.05);
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}
