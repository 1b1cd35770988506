import { Rng } from '../../actors/runtime/rng.ts';

/**
 * Random fail-nth inside model runs: on some calls the campaign arms `farm.failNth` with an n
 * drawn from the case's seed, so the errno-atomicity invariant checks the unwind of whatever
 * point fails. Copy-outs after the work is done are skipped: the kernel keeps that work and
 * returns EFAULT, which the model does not follow.
 */
export interface FailNthCampaign {
  /** Share of calls that run with an injection armed. @defaultValue 0.25 */
  readonly rate?: number;
  /** n is drawn from 1..maxN. @defaultValue 8 */
  readonly maxN?: number;
}

/** Per call: the n to arm, or undefined to run uninjected. Deterministic in `seed`. */
export function failNthInjector(seed: number, c: FailNthCampaign): () => number | undefined {
  const rng = new Rng((seed ^ 0x5eedfa11) >>> 0);
  const threshold = Math.round((c.rate ?? 0.25) * 1024);
  const maxN = c.maxN ?? 8;
  return () => (rng.below(1024) < threshold ? 1 + rng.below(maxN) : undefined);
}
