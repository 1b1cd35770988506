/**
 * Bit fields of 64-bit structure words, named as Linux's GENMASK_ULL(hi, lo) names them, so the
 * encodings read like arm-smmu-v3.h. Words are bigint because the structures are 64-bit.
 */
export type Field = readonly [hi: number, lo: number];

export function fieldMask(f: Field): bigint {
  return ((1n << BigInt(f[0] - f[1] + 1)) - 1n) << BigInt(f[1]);
}

/** FIELD_GET for fields narrow enough to be a JS number (≤ 53 bits). */
export function getField(word: bigint, f: Field): number {
  return Number((word >> BigInt(f[1])) & ((1n << BigInt(f[0] - f[1] + 1)) - 1n));
}

/** FIELD_PREP; a value wider than the field is a simulator bug, not a truncation. */
export function prepField(f: Field, value: number | bigint): bigint {
  const v = BigInt(value);
  const width = BigInt(f[0] - f[1] + 1);
  if (v < 0n || v >> width !== 0n) throw new RangeError(`value ${v} does not fit in [${f[0]}:${f[1]}]`);
  return v << BigInt(f[1]);
}

export function bit(n: number): bigint {
  return 1n << BigInt(n);
}

export function testBit(word: bigint, n: number): boolean {
  return ((word >> BigInt(n)) & 1n) === 1n;
}

/** FIELD_GET/PREP on 32-bit registers. */
export function get32(reg: number, hi: number, lo: number): number {
  return Number((BigInt(reg >>> 0) >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));
}

export function prep32(hi: number, lo: number, value: number): number {
  const width = hi - lo + 1;
  if (value < 0 || value >= 2 ** width) throw new RangeError(`value ${value} does not fit in [${hi}:${lo}]`);
  return (value * 2 ** lo) >>> 0;
}
