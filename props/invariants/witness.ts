import { lit } from '../world/code.ts';
import type { DmaRecord } from '../world/step.ts';

/** Reproduction lines asserting what the DMA should have done. */
export function dmaWitness(d: DmaRecord): string[] {
  const res = `(await ${d.varName})`;
  const msg = lit(`${d.device}: ${d.verdict}: ${d.detail}`);
  switch (d.verdict) {
    case 'unbacked':
      return [`check(!(!${res}.ok && ${res}.fault.vendor === 'farm'), ${msg});`];
    case 'stale':
    case 'permission':
      return [`check(!${res}.ok, ${msg});`];
    default:
      return [`check(false, ${msg}); // see the bytes of ${d.varName} against the mapped user memory`];
  }
}
