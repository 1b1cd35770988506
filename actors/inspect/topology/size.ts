const UNITS: Record<string, bigint> = {
  '': 1n,
  KiB: 1n << 10n,
  MiB: 1n << 20n,
  GiB: 1n << 30n,
  TiB: 1n << 40n,
};

const SIZE = /^(0x[0-9a-fA-F]+|\d+)\s*(KiB|MiB|GiB|TiB)?$/;

/** A size or address as people write it in a topology: 4096, "0x1000", "64KiB", "2MiB", "1GiB". */
export function parseSize(v: number | string): bigint | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
  const m = SIZE.exec(v.trim());
  if (!m) return undefined;
  return BigInt(m[1]!) * UNITS[m[2] ?? '']!;
}

/** The shortest exact spelling: "1GiB", "64KiB", else a number (or hex past 2^53). */
export function formatSize(v: bigint): number | string {
  for (const unit of ['TiB', 'GiB', 'MiB', 'KiB'] as const) {
    const u = UNITS[unit]!;
    if (v >= u && v % u === 0n) return `${v / u}${unit}`;
  }
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : `0x${v.toString(16)}`;
}

/** Vendor options are JSON scalars; a bigint option (a raw register value) is written `0x…n`. */
export function decodeOption(v: unknown): unknown {
  if (typeof v === 'string' && /^(0x[0-9a-fA-F]+|\d+)n$/.test(v)) return BigInt(v.slice(0, -1));
  return v;
}

export function encodeOption(v: unknown): unknown {
  return typeof v === 'bigint' ? `0x${v.toString(16)}n` : v;
}
