import { performance } from 'node:perf_hooks';

/** One measurement: operations per second over at least `minMs` of wall time. */
export interface Measurement {
  readonly name: string;
  readonly opsPerSec: number;
  readonly nsPerOp: number;
}

/**
 * Runs `op` in batches until `minMs` have passed (after a warm-up), so JIT tiers settle.
 * Wall time is fine here: benchmarks measure the simulator, not simulated time.
 */
export async function measure(
  name: string,
  op: () => unknown,
  opts: { minMs?: number; batch?: number } = {},
) {
  const minMs = opts.minMs ?? 1000;
  const batch = opts.batch ?? 100;
  // Synchronous operations are timed without an await per call (it would dominate them).
  const sync = !isThenable(op());
  const runBatch = sync
    ? () => {
        for (let i = 0; i < batch; i++) op();
      }
    : async () => {
        for (let i = 0; i < batch; i++) await op();
      };
  await runBatch();
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    await runBatch();
    n += batch;
    elapsed = performance.now() - start;
  }
  const opsPerSec = (n / elapsed) * 1000;
  return { name, opsPerSec, nsPerOp: 1e9 / opsPerSec } satisfies Measurement;
}

/** Prints rows as `name  ops/s  ns/op  ×baseline` (ratio = baseline ops/s ÷ this ops/s). */
export function report(title: string, baseline: Measurement, rows: Measurement[]): void {
  console.log(`\n${title}`);
  console.log(
    `  ${'case'.padEnd(44)} ${'ops/s'.padStart(12)} ${'ns/op'.padStart(10)} ${'× baseline'.padStart(11)}`,
  );
  for (const m of [baseline, ...rows]) {
    const ratio = baseline.opsPerSec / m.opsPerSec;
    console.log(
      `  ${m.name.padEnd(44)} ${Math.round(m.opsPerSec).toLocaleString('en-US').padStart(12)} ${m.nsPerOp.toFixed(0).padStart(10)} ${ratio.toFixed(1).padStart(11)}`,
    );
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
