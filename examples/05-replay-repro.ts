/**
 * From a failing property to a standalone reproduction and back: find a counterexample for a
 * broken twin, replay it, write it as a runnable script, then read the replay data back from
 * the file's header and run that case once more, as `iommu-farm props --replay <file>` does.
 *
 *   npm run example examples/05-replay-repro.ts
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { checkProperty, INVARIANTS, readReproMeta, replay, writeRepro } from 'iommu-farm/props';

const vendor = 'arm-smmuv3';
const faults = ['skipIotlbInvalidation'] as const;
const invariants = [INVARIANTS['no-stale']];

const report = await checkProperty({ invariants, vendors: [vendor], faults, numRuns: 20, seed: 5 });
const ce = report.counterexample;
if (!report.failed || ce === undefined) throw new Error('the broken twin went unnoticed');
console.log(
  `no-stale on ${vendor} broke after ${report.runs} runs; shrunk to ${ce.commands.length} commands:`,
);
for (const c of ce.commands) console.log(`  ${c.toString()}`);

const first = await replay(ce, { invariants, faults });
console.log(`replay: ${first.failure ? first.failure.violation.invariant : 'no violation'}`);

const dir = await mkdtemp(join(tmpdir(), 'iommu-farm-repro-'));
try {
  const meta = { property: 'no-stale', vendor, seed: report.seed, path: report.path, faults } as const;
  const file = await writeRepro(dir, { ...meta, replayPath: report.replayPath }, ce, first);
  const source = await readFile(file, 'utf8');
  console.log(`wrote ${basename(file)} (${source.split('\n').length} lines)`);

  const back = readReproMeta(source);
  if (back === undefined) throw new Error('no replay data in the reproduction');
  const again = await checkProperty({
    invariants,
    vendors: [vendor],
    faults: back.faults,
    seed: back.seed,
    ...(back.path === undefined ? {} : { path: back.path }),
    ...(back.replayPath === undefined ? {} : { replayPath: back.replayPath }),
  });
  const steps = again.counterexample?.commands.length ?? 0;
  console.log(
    `replayed from the file (seed ${back.seed}): ${again.failed ? `fails again, ${steps} commands` : 'passes'}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
