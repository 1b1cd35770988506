/** A short rendering of a bad option value for an error message. */
export function describeValue(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n (bigint)`;
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}' (string)`;
  if (typeof v === 'number') return `${v} (number)`;
  if (v === null || v === undefined || typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return `a Uint8Array of length ${v.length}`;
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'function') return 'a function';
  return typeof v;
}
