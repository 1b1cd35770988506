import type { Invariant, Violation } from './invariant.ts';
import { dmaWitness } from './witness.ts';

const BREACH = new Set(['stale', 'permission', 'wrong-page', 'foreign', 'unbacked']);

/**
 * Isolation: a DMA reaches a host page only if the device's current attachment maps it (or a
 * domain it was moving to or from while the call that moves it was in flight); never a page of
 * a process that does not own the device; never a freed page.
 */
export const isolation: Invariant = {
  name: 'isolation',
  title: 'DMA reaches only pages its attachment maps, of its own process, never freed ones',
  check({ step }): Violation | undefined {
    const bad = step.dmas.find((d) => BREACH.has(d.verdict));
    if (!bad) return undefined;
    return {
      invariant: 'isolation',
      message: `${bad.device}: ${bad.verdict}: ${bad.detail}`,
      witness: dmaWitness(bad),
    };
  },
};
