const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = (1n << 64n) - 1n;

/** FNV-1a (64-bit) over the trace's event lines: a short fingerprint of a run, the same everywhere. */
export function traceHash(lines: readonly string[]): string {
  let h = FNV_OFFSET;
  for (const line of lines) {
    for (let i = 0; i < line.length; i++) {
      h ^= BigInt(line.charCodeAt(i));
      h = (h * FNV_PRIME) & MASK;
    }
    h ^= 10n;
    h = (h * FNV_PRIME) & MASK;
  }
  return h.toString(16).padStart(16, '0');
}
