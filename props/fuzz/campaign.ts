import { performance } from 'node:perf_hooks';
import type { FaultName } from '../../actors/runtime/faults.ts';
import type { VendorName } from '../../vendors/driver.ts';
import { callLabel, type FuzzCall } from './call.ts';
import { type Finding, knownFinding, signature } from './finding.ts';
import { type GrammarOptions, nextCall } from './grammar.ts';
import { seedProgram } from './grammar-seed.ts';
import { Resources } from './resources.ts';
import { Session, type SessionOptions } from './session.ts';
import { type Shrunk, shrinkCalls } from './shrink.ts';
import { Dice } from './values.ts';

export interface FuzzOptions extends GrammarOptions {
  readonly vendor: VendorName;
  /** Calls to make in all. */
  readonly calls: number;
  /** The fuzzer's seed: which calls are drawn. */
  readonly seed: number;
  /** The farm's seed (fabric order, vendor jitter). @defaultValue 1 */
  readonly farmSeed?: number;
  readonly faults?: readonly FaultName[];
  /** Calls per rig before a fresh one (keeps states varied and findings short). @defaultValue 100 */
  readonly epochCalls?: number;
  /** Distinct findings after which the campaign stops. @defaultValue 5 */
  readonly maxFindings?: number;
  /** Shrink each new finding. @defaultValue true */
  readonly shrink?: boolean;
  readonly shrinkTimeLimitMs?: number;
  readonly missing?: boolean;
  /** The first epoch's number (a watchdog resumes past an epoch that hung). @defaultValue 0 */
  readonly firstEpoch?: number;
  /** Told before each call runs (a watchdog records the call in flight). */
  readonly onCall?: (c: FuzzCall, index: number, epoch: number) => void;
}

export interface FuzzFinding {
  readonly finding: Finding;
  readonly signature: string;
  /** The epoch's calls up to the finding. */
  readonly calls: FuzzCall[];
  readonly shrunk: Shrunk | undefined;
  /** The session that replays it (farm and sweep seeds). */
  readonly session: SessionOptions;
  readonly known: string | undefined;
}

export interface FuzzReport {
  readonly vendor: VendorName;
  readonly seed: number;
  readonly calls: number;
  /** Time spent making calls (shrinking excluded). */
  readonly ms: number;
  /** Time spent shrinking findings. */
  readonly shrinkMs: number;
  /** Per call label: successes and failures (by errno). */
  readonly stats: Map<string, { ok: number; fail: number; errnos: Map<string, number> }>;
  readonly findings: FuzzFinding[];
}

/**
 * A campaign: epochs of calls drawn from the grammar against a fresh rig, every call checked;
 * an epoch ends at its first finding, which is shrunk (if new) and recorded once per signature.
 */
export async function runCampaign(opts: FuzzOptions): Promise<FuzzReport> {
  const start = performance.now();
  const stats: FuzzReport['stats'] = new Map();
  const findings: FuzzFinding[] = [];
  const seen = new Set<string>();
  const epochCalls = opts.epochCalls ?? 100;
  let done = 0;
  let shrinkMs = 0;
  for (
    let epoch = opts.firstEpoch ?? 0;
    done < opts.calls && findings.length < (opts.maxFindings ?? 5);
    epoch++
  ) {
    const dice = new Dice((opts.seed * 7919 + epoch) >>> 0);
    const session = epochSession(opts, epoch);
    const s = new Session(session);
    const res = new Resources(s.rig, dice);
    const opening = seedProgram(dice, s.rig);
    for (let i = 0; i < epochCalls && done < opts.calls; i++, done++) {
      const c = opening.shift()?.(s.rig, res) ?? nextCall(dice, s.rig, res, opts);
      opts.onCall?.(c, i, epoch);
      const out = await s.step(c);
      count(stats, callLabel(c), out);
      if (!s.finding) continue;
      const sig = signature(s.finding);
      if (!seen.has(sig)) {
        seen.add(sig);
        const calls = s.calls.slice();
        const t = performance.now();
        const shrunk =
          opts.shrink === false
            ? undefined
            : await shrinkCalls(
                session,
                calls,
                s.finding,
                opts.shrinkTimeLimitMs === undefined ? {} : { timeLimitMs: opts.shrinkTimeLimitMs },
              );
        shrinkMs += performance.now() - t;
        const final = shrunk ?? { calls, finding: s.finding };
        findings.push({
          finding: s.finding,
          signature: sig,
          calls,
          shrunk,
          session,
          known: opts.faults?.length
            ? `with ${opts.faults.join(', ')} on`
            : knownFinding(final.finding, final.calls),
        });
      }
      done++;
      break;
    }
  }
  return {
    vendor: opts.vendor,
    seed: opts.seed,
    calls: done,
    ms: performance.now() - start - shrinkMs,
    shrinkMs,
    stats,
    findings,
  };
}

/** The session of one epoch: its farm and sweep seeds follow from the campaign's. */
export function epochSession(opts: FuzzOptions, epoch: number): SessionOptions {
  return {
    vendor: opts.vendor,
    farmSeed: ((opts.farmSeed ?? 1) + epoch) >>> 0,
    sweepSeed: (opts.seed ^ (epoch * 2654435761)) >>> 0,
    faults: opts.faults ?? [],
    ...(opts.missing === undefined ? {} : { missing: opts.missing }),
  };
}

function count(stats: FuzzReport['stats'], label: string, out: Awaited<ReturnType<Session['step']>>): void {
  let s = stats.get(label);
  if (!s) {
    s = { ok: 0, fail: 0, errnos: new Map() };
    stats.set(label, s);
  }
  if (out.ok) s.ok++;
  else {
    s.fail++;
    const e = (out.err as { errno?: string })?.errno ?? 'exception';
    s.errnos.set(e, (s.errnos.get(e) ?? 0) + 1);
  }
}
