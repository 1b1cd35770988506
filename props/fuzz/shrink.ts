import type { FuzzCall } from './call.ts';
import { type Finding, signature } from './finding.ts';
import { replayCalls, type SessionOptions } from './session.ts';

export interface ShrinkOptions {
  /** Replays it may spend. @defaultValue 400 */
  readonly maxReplays?: number;
  /** Wall-clock budget in ms. @defaultValue 60000 */
  readonly timeLimitMs?: number;
}

export interface Shrunk {
  readonly calls: FuzzCall[];
  readonly finding: Finding;
  readonly replays: number;
}

/**
 * Delta debugging (ddmin) over the recorded calls: drop chunks, then single calls, keeping a
 * candidate only if a fresh replay still ends in a finding with the same signature.
 */
export async function shrinkCalls(
  opts: SessionOptions,
  calls: readonly FuzzCall[],
  finding: Finding,
  limits: ShrinkOptions = {},
): Promise<Shrunk> {
  const want = signature(finding);
  const maxReplays = limits.maxReplays ?? 400;
  const deadline = performance.now() + (limits.timeLimitMs ?? 60_000);
  let replays = 0;
  let best = calls.slice(0, finding.at + 1);
  let bestFinding = finding;
  const tryList = async (cand: FuzzCall[]): Promise<boolean> => {
    if (replays >= maxReplays || performance.now() > deadline) return false;
    replays++;
    const { finding: f, ran } = await replayCalls(opts, cand);
    if (f && signature(f) === want) {
      best = ran;
      bestFinding = f;
      return true;
    }
    return false;
  };
  let n = 2;
  while (best.length >= 2 && replays < maxReplays && performance.now() < deadline) {
    const chunk = Math.ceil(best.length / n);
    let reduced = false;
    for (let start = 0; start < best.length; start += chunk) {
      const cand = [...best.slice(0, start), ...best.slice(start + chunk)];
      if (cand.length > 0 && (await tryList(cand))) {
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= best.length) break;
      n = Math.min(best.length, n * 2);
    }
  }
  return { calls: best, finding: bestFinding, replays };
}
