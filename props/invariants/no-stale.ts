import type { Invariant, Violation } from './invariant.ts';
import { dmaWitness } from './witness.ts';

/**
 * No stale translation after completion: once IOAS_UNMAP (or a detach, replace or close) has
 * returned, no IOTLB or ATC entry older than it is used: a DMA to an IOVA that no domain the
 * device may use maps must fault.
 */
export const noStale: Invariant = {
  name: 'no-stale',
  title: 'once an unmap/detach returns, DMA to what it removed faults',
  check({ step }): Violation | undefined {
    const bad = step.dmas.find((d) => d.verdict === 'stale');
    if (!bad) return undefined;
    return { invariant: 'no-stale', message: `${bad.device}: ${bad.detail}`, witness: dmaWitness(bad) };
  },
};
