import fc from 'fast-check';

const U64_MAX = (1n << 64n) - 1n;

export interface LengthConstraints {
  /** Page sizes lengths are multiples of. @defaultValue [0x800n, 0x1000n] */
  readonly granules?: readonly bigint[];
  /** @defaultValue 8 */
  readonly maxPages?: number;
}

/** Lengths biased to page multiples, with the odd byte count and the overflowing values. */
export function lengthArb(constraints: LengthConstraints = {}): fc.Arbitrary<bigint> {
  const { granules = [0x800n, 0x1000n], maxPages = 8 } = constraints;
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .tuple(fc.constantFrom(...granules), fc.integer({ min: 1, max: maxPages }))
        .map(([g, n]) => g * BigInt(n)),
    },
    { weight: 1, arbitrary: fc.constantFrom(1n, 0x7ffn, 0x1001n, 0n, 1n << 32n, U64_MAX - 0xfffn, U64_MAX) },
  );
}
