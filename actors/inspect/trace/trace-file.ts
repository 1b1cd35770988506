import pkg from '../../../package.json' with { type: 'json' };
import type { FarmEvent } from '../../runtime/trace.ts';
import type { Json } from '../chart/context-summary.ts';
import { decodeJson, encodeJson } from './jsonl.ts';

export const TRACE_FORMAT = 'iommu-farm-trace';
/** Bumped whenever an event's meaning or spelling changes: an old trace would not replay. */
export const TRACE_FORMAT_VERSION = 1;

/** The first line of a trace: enough to build the same farm and run the same scenario again. */
export interface TraceHeader {
  readonly format: typeof TRACE_FORMAT;
  readonly version: number;
  readonly package: string;
  readonly seed: number;
  /** The topology as a file holds it (`topologyData`), scenario included. */
  readonly topology: Json;
}

export interface Trace {
  readonly header: TraceHeader;
  /** Event lines exactly as written (replay compares these). */
  readonly lines: readonly string[];
  readonly events: readonly FarmEvent[];
}

/** A trace that cannot be read: `file:line: problem`, one line. */
export class TraceError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'TraceError';
  }
}

export function traceHeader(seed: number, topology: Json): TraceHeader {
  return { format: TRACE_FORMAT, version: TRACE_FORMAT_VERSION, package: pkg.version, seed, topology };
}

export function encodeEvent(event: FarmEvent): string {
  return encodeJson(event);
}

/** The JSONL text of a trace: the header line, then one line per event. */
export function traceText(header: TraceHeader, lines: readonly string[]): string {
  return `${[encodeJson(header), ...lines].join('\n')}\n`;
}

/** Reads a JSONL trace; refuses another format or format version before reading any event. */
export function readTrace(text: string, file = '<trace>'): Trace {
  const all = text.split('\n');
  while (all.length > 0 && all[all.length - 1] === '') all.pop();
  if (all.length === 0) throw new TraceError(file, 1, 'empty file: expected a trace header line');
  let header: Partial<TraceHeader>;
  try {
    header = decodeJson(all[0]!) as Partial<TraceHeader>;
  } catch {
    throw new TraceError(file, 1, 'not JSON: expected a trace header line');
  }
  if (header === null || typeof header !== 'object' || header.format !== TRACE_FORMAT) {
    throw new TraceError(file, 1, `not an ${TRACE_FORMAT} file (no "format": "${TRACE_FORMAT}" header)`);
  }
  if (header.version !== TRACE_FORMAT_VERSION) {
    throw new TraceError(
      file,
      1,
      `trace format version ${String(header.version)} (written by iommu-farm ${String(header.package)}); this build (${pkg.version}) reads version ${TRACE_FORMAT_VERSION}`,
    );
  }
  if (typeof header.seed !== 'number' || typeof header.topology !== 'object' || header.topology === null) {
    throw new TraceError(file, 1, 'the header lacks "seed" or "topology"');
  }
  const lines = all.slice(1);
  const events = lines.map((line, i) => {
    try {
      const e = decodeJson(line) as FarmEvent;
      if (typeof e?.type !== 'string' || typeof e.t !== 'number') throw new Error('no type or t');
      return e;
    } catch {
      throw new TraceError(file, i + 2, 'not a farm event (expected a JSON object with "type" and "t")');
    }
  });
  return { header: header as TraceHeader, lines, events };
}
