import { expect, test } from 'vitest';
import type { FaultName } from '../../actors/runtime/faults.ts';
import { availableVendors, type VendorName } from '../../index.ts';
import {
  brokenTwins,
  type CheckReport,
  checkProperty,
  failureOf,
  INVARIANTS,
  type InvariantName,
} from '../../props/index.ts';
import { PASS_LIMIT_MS, RUNS, SEED, TWIN_RUNS } from './seed.ts';

/** What a failed report says, for assertion messages: the violation and the shrunk script. */
export function explain(r: CheckReport): string {
  const f = failureOf(r);
  const head = f ? f.message : String((r.error as Error)?.stack ?? r.error);
  const script = r.counterexample?.commands.map((c) => `  ${c.toString()}`).join('\n') ?? '';
  return `${head}\nseed ${r.seed}, path ${r.path}\n${script}`;
}

/**
 * The suite of one invariant on every available vendor: it holds on the farm as built, and each
 * broken twin that applies to the vendor is caught, with a counterexample shrunk to ≤ 10 steps.
 */
export function invariantSuite(
  name: InvariantName,
  vendors: readonly VendorName[] = availableVendors(),
): void {
  const invariant = INVARIANTS[name];
  for (const vendor of vendors) {
    test(`${name} holds on ${vendor} (seed ${SEED})`, { timeout: 120_000 }, async () => {
      const r = await checkProperty({
        invariants: [invariant],
        vendors: [vendor],
        numRuns: RUNS,
        seed: SEED,
        timeLimitMs: PASS_LIMIT_MS,
      });
      expect(r.failed, explain(r)).toBe(false);
    });
    for (const fault of brokenTwins(name, vendor)) twinTest(name, vendor, fault);
  }
}

function twinTest(name: InvariantName, vendor: VendorName, fault: FaultName): void {
  test(`${name} catches ${fault} on ${vendor} (seed ${SEED})`, { timeout: 120_000 }, async () => {
    const r = await checkProperty({
      invariants: [INVARIANTS[name]],
      vendors: [vendor],
      faults: [fault],
      numRuns: TWIN_RUNS,
      seed: SEED,
    });
    expect(r.failed, `${fault} went unnoticed in ${r.runs} runs`).toBe(true);
    expect(failureOf(r)?.violation.invariant, explain(r)).toBe(name);
    expect(r.counterexample!.commands.length, explain(r)).toBeLessThanOrEqual(10);
  });
}
