import type { Farm } from '../../farm.ts';
import type { FarmEvent } from '../../runtime/trace.ts';
import { loadTopology } from '../topology/build.ts';
import { topologyData } from '../topology/data.ts';
import { runScenario, type StepOutcome } from '../topology/scenario.ts';
import type { Topology } from '../topology/schema.ts';
import { encodeEvent, type TraceHeader, traceHeader } from './trace-file.ts';

export interface RecordOptions {
  /** Overrides the topology's seed. */
  readonly seed?: number;
  readonly onStep?: (outcome: StepOutcome, total: number) => void;
  readonly onEvent?: (event: FarmEvent) => void;
}

export interface RecordedRun {
  readonly farm: Farm;
  readonly header: TraceHeader;
  /** One JSONL line per `farm.events$` event, from the first actor spawned to the end of the scenario. */
  readonly lines: readonly string[];
  readonly events: readonly FarmEvent[];
  readonly outcomes: readonly StepOutcome[];
}

/** Builds a farm from a topology, runs its scenario, and keeps every event with its virtual time. */
export async function recordRun(topology: Topology, opts: RecordOptions = {}): Promise<RecordedRun> {
  const events: FarmEvent[] = [];
  const lines: string[] = [];
  const farm = loadTopology(topology, {
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
    onCreate: (f) =>
      f.events$.subscribe((e) => {
        events.push(e);
        lines.push(encodeEvent(e));
        opts.onEvent?.(e);
      }),
  });
  const outcomes = await runScenario(
    farm,
    topology.scenario ?? [],
    opts.onStep ? { onStep: opts.onStep } : {},
  );
  return { farm, header: traceHeader(farm.seed, topologyData(topology)), lines, events, outcomes };
}
