/** A JSON value: what a context summary, a trace line or a topology file can hold. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const MAX_DEPTH = 3;
const MAX_ITEMS = 8;
const MAX_STRING = 80;

/**
 * A small, JSON-safe picture of an actor's context for a chart legend: bigints as `0x…n`
 * strings, long strings and collections cut short, functions and actor refs by name, cycles
 * and deep nesting elided. It is for people; the trace keeps exact values.
 */
export function summarizeContext(value: unknown, depth = 0): Json {
  if (value === undefined || value === null) return null;
  if (typeof value === 'bigint') return `0x${value.toString(16)}n`;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
  if (typeof value !== 'object') return String(value);
  const ref = value as { id?: unknown; send?: unknown; getSnapshot?: unknown };
  if (typeof ref.send === 'function' && typeof ref.getSnapshot === 'function')
    return `[actor ${String(ref.id)}]`;
  if (depth >= MAX_DEPTH) return '…';
  if (value instanceof Map || value instanceof Set || Array.isArray(value) || ArrayBuffer.isView(value)) {
    const items = value instanceof Map ? [...value.entries()] : [...(value as Iterable<unknown>)];
    const shown = items.slice(0, MAX_ITEMS).map((v) => summarizeContext(v, depth + 1));
    if (items.length > MAX_ITEMS) shown.push(`…${items.length - MAX_ITEMS} more`);
    return shown;
  }
  const out: { [key: string]: Json } = {};
  const entries = Object.entries(value);
  for (const [k, v] of entries.slice(0, MAX_ITEMS * 2)) out[k] = summarizeContext(v, depth + 1);
  if (entries.length > MAX_ITEMS * 2) out['…'] = `${entries.length - MAX_ITEMS * 2} more keys`;
  return out;
}

/** `key: value` lines of a summary's top level, for legends. */
export function summaryLines(summary: Json): string[] {
  if (summary === null || typeof summary !== 'object' || Array.isArray(summary)) {
    return [JSON.stringify(summary)];
  }
  return Object.entries(summary).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
}
