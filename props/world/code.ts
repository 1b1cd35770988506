/**
 * TypeScript source for values, so a transcript line is valid code: bigints in hex with `n`,
 * byte arrays as `Uint8Array.of(...)`, objects with bare keys.
 */
export function lit(v: unknown): string {
  if (typeof v === 'bigint') return v < 0n ? `-0x${(-v).toString(16)}n` : `0x${v.toString(16)}n`;
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (v instanceof Uint8Array) {
    return v.length <= 16 ? `Uint8Array.of(${[...v].join(', ')})` : `new Uint8Array(${v.length})`;
  }
  if (Array.isArray(v)) return `[${v.map(lit).join(', ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return '{}';
    return `{ ${entries.map(([k, x]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : lit(k)}: ${lit(x)}`).join(', ')} }`;
  }
  return String(v);
}

/** Short human form of a call's outputs for a transcript comment. */
export function outcomeComment(out: Record<string, unknown>): string {
  const shown = Object.entries(out).filter(([, x]) => typeof x === 'bigint' || typeof x === 'number');
  return shown.length === 0 ? 'ok' : lit(Object.fromEntries(shown));
}
