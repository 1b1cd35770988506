import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import type { TopologySpec } from '../arbitraries/topology.ts';
import type { PropCommand } from '../commands/command.ts';
import { PropertyFailure } from '../invariants/invariant.ts';
import { checkCheckOptions } from './options.ts';
import { modelProperty, type PropertyArgs, type PropertyOptions } from './property.ts';

export interface CheckOptions extends PropertyOptions {
  /** @defaultValue 100 */
  readonly numRuns?: number;
  readonly seed?: number;
  /** Replays one case (with `seed`): the `path` a failure printed. */
  readonly path?: string;
  /** Stops generating (and shrinking) after this long; the best counterexample so far is kept. */
  readonly timeLimitMs?: number;
}

/** A shrunk failing case, ready to replay. */
export interface Counterexample {
  readonly topology: TopologySpec;
  /** The commands that ran, in order. */
  readonly commands: readonly PropCommand[];
  readonly plan: readonly number[];
}

export interface CheckReport {
  readonly failed: boolean;
  readonly runs: number;
  readonly seed: number;
  readonly path: string | undefined;
  /** With `seed` and `path`, replays the shrunk case (fast-check's command replay log). */
  readonly replayPath: string | undefined;
  readonly timeMs: number;
  readonly numShrinks: number;
  readonly counterexample: Counterexample | undefined;
  /** The invariant violation (or the unexpected error) of the counterexample. */
  readonly error: unknown;
  readonly interrupted: boolean;
}

/** Runs the property with fast-check and reports, without throwing (bad options reject with FarmOptionError). */
export async function checkProperty(opts: CheckOptions): Promise<CheckReport> {
  checkCheckOptions(opts);
  const start = performance.now();
  // A path starts with the index of its run: fast-check needs numRuns past it to replay.
  const first = opts.path === undefined ? 0 : Number(opts.path.split(':')[0]) + 1;
  const details = await fc.check(modelProperty(opts), {
    numRuns: Math.max(opts.numRuns ?? 100, first),
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
    ...(opts.path === undefined ? {} : { path: opts.path, endOnFailure: true }),
    ...(opts.timeLimitMs === undefined ? {} : { interruptAfterTimeLimit: opts.timeLimitMs }),
  });
  const ce = details.counterexample as PropertyArgs | null;
  return {
    failed: details.failed,
    runs: details.numRuns,
    seed: details.seed,
    path: details.counterexamplePath ?? undefined,
    replayPath: ce ? /replayPath="([^"]*)"/.exec(String(ce[1]))?.[1] : undefined,
    timeMs: performance.now() - start,
    numShrinks: details.numShrinks,
    counterexample: ce ? { topology: ce[0], commands: ranCommands(ce[1]), plan: ce[2] } : undefined,
    error: details.errorInstance,
    interrupted: details.interrupted,
  };
}

/** The commands of a counterexample that actually ran (their `check` passed). */
export function ranCommands(cmds: Iterable<unknown>): PropCommand[] {
  const out: PropCommand[] = [];
  for (const c of cmds) {
    const w = c as unknown as { hasRan?: boolean; cmd?: PropCommand };
    if (w.cmd === undefined) out.push(c as PropCommand);
    else if (w.hasRan) out.push(w.cmd);
  }
  return out;
}

/** The violation behind a report, if the failure was a broken invariant. */
export function failureOf(report: CheckReport): PropertyFailure | undefined {
  return PropertyFailure.is(report.error) ? report.error : undefined;
}
