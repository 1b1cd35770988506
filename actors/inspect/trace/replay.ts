import { parseTopology } from '../topology/parse.ts';
import { recordRun } from './record.ts';
import type { Trace } from './trace-file.ts';

/** Where a replay first parted from the recording (1-based event number; line = number + 1). */
export interface Divergence {
  readonly event: number;
  readonly expected: string | undefined;
  readonly actual: string | undefined;
}

export interface ReplayResult {
  readonly ok: boolean;
  readonly recorded: number;
  readonly replayed: number;
  readonly divergence?: Divergence;
}

/**
 * Rebuilds the farm from a trace's header (topology and seed), runs the scenario again and
 * compares the new events with the recorded ones, line for line.
 */
export async function replayTrace(trace: Trace, file = '<trace>'): Promise<ReplayResult> {
  const topology = parseTopology(JSON.stringify(trace.header.topology), `${file} (header)`);
  const run = await recordRun(topology, { seed: trace.header.seed });
  const n = Math.max(run.lines.length, trace.lines.length);
  for (let i = 0; i < n; i++) {
    if (run.lines[i] !== trace.lines[i]) {
      return {
        ok: false,
        recorded: trace.lines.length,
        replayed: run.lines.length,
        divergence: { event: i + 1, expected: trace.lines[i], actual: run.lines[i] },
      };
    }
  }
  return { ok: true, recorded: trace.lines.length, replayed: run.lines.length };
}
