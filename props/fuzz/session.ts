import type { FaultName } from '../../actors/runtime/faults.ts';
import type { VendorName } from '../../vendors/driver.ts';
import { callLabel, callsToJson, type FuzzCall } from './call.ts';
import { judgeOutcome, snapshotAll } from './checks.ts';
import { execCall, type Outcome, ReplayError } from './exec.ts';
import type { Finding } from './finding.ts';
import { Rig } from './rig.ts';
import { DmaSweep, ESCAPES } from './sweep.ts';

export interface SessionOptions {
  readonly vendor: VendorName;
  readonly farmSeed: number;
  /** Seeds the DMA sweep's choices. */
  readonly sweepSeed: number;
  readonly faults?: readonly FaultName[];
  /** Report DMAs that fault although mapped (`missing`); on by default. */
  readonly missing?: boolean;
}

/**
 * One fresh rig and the checks run after every call on it: the outcome (only IommufdError with
 * a Linux errno; a failure changes no ctx snapshot, bar the documented partial unmaps; the call
 * settles within the bounds), then a DMA sweep judged by the oracle. Campaigns and replays
 * (shrinking, reproduction scripts) both run calls through it, so they judge alike.
 */
export class Session {
  readonly rig: Rig;
  readonly sweep: DmaSweep;
  readonly calls: FuzzCall[] = [];
  finding: Finding | undefined;

  constructor(readonly opts: SessionOptions) {
    this.rig = new Rig({ vendor: opts.vendor, farmSeed: opts.farmSeed, faults: opts.faults ?? [] });
    this.sweep = new DmaSweep(this.rig, opts.sweepSeed);
  }

  /** Runs one call and every check; returns its outcome, and sets `finding` on the first problem. */
  async step(c: FuzzCall): Promise<Outcome> {
    const at = this.calls.length;
    this.calls.push(c);
    const before = snapshotAll(this.rig);
    const outcome = await execCall(this.rig, c);
    // A call naming a handle that was never opened (its open was shrunk away) does nothing.
    if (!outcome.ok && outcome.err instanceof ReplayError) {
      this.calls.pop();
      return outcome;
    }
    const bad = judgeOutcome(c, outcome, before, () => snapshotAll(this.rig));
    const label = callLabel(c);
    if (bad) {
      this.finding = { ...bad, vendor: this.opts.vendor, at, label };
      return outcome;
    }
    let checks: Awaited<ReturnType<DmaSweep['run']>>;
    try {
      checks = await this.sweep.run(callsToJson([c]));
    } catch (err) {
      const e = err as Error;
      this.finding = {
        kind: e?.name === 'HangError' ? 'hang' : 'exception',
        vendor: this.opts.vendor,
        at,
        label,
        message: `DMA sweep: ${e?.message ?? String(err)}`,
      };
      return outcome;
    }
    const breach = checks.find((d) => ESCAPES.has(d.verdict));
    const missing = this.opts.missing === false ? undefined : checks.find((d) => d.verdict === 'missing');
    const hit = breach ?? missing;
    if (hit) {
      const where = `${hit.device}${hit.pasid === undefined ? '' : ` pasid ${hit.pasid}`}`;
      this.finding = {
        kind: breach ? 'escape' : 'missing',
        vendor: this.opts.vendor,
        at,
        label,
        message: `${where}: ${hit.verdict}: ${hit.detail}`,
        dma: hit,
      };
    }
    return outcome;
  }
}

/** Replays calls on a fresh session: the first finding (or none), and the calls that ran up to it. */
export async function replayCalls(
  opts: SessionOptions,
  calls: readonly FuzzCall[],
): Promise<{ finding: Finding | undefined; ran: FuzzCall[] }> {
  const s = new Session(opts);
  for (const c of calls) {
    await s.step(c);
    if (s.finding) break;
  }
  return { finding: s.finding, ran: s.calls };
}
