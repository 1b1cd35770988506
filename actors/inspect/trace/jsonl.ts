/**
 * JSON with bigints: a bigint is written as `{"$bigint":"0x…"}`, which no farm event uses for
 * anything else, so decoding gives back exactly what was encoded (a string like "10n" stays a string).
 */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? { $bigint: `0x${v.toString(16)}` } : v));
}

export function decodeJson(text: string): unknown {
  return JSON.parse(text, (_key, v) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$bigint' && typeof v.$bigint === 'string')
        return BigInt(v.$bigint);
    }
    return v;
  });
}
