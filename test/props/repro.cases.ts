import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  checkProperty,
  INVARIANTS,
  readReproMeta,
  renderRepro,
  replay,
  writeRepro,
} from '../../props/index.ts';
import { SEED } from './seed.ts';

const opts = {
  invariants: [INVARIANTS.accounting],
  vendors: ['mock' as const],
  faults: ['doubleAccountSharedPages' as const],
  numRuns: 200,
  seed: SEED,
};

describe(`reproduction (seed ${SEED})`, () => {
  test('same seed, same result: the same shrunk counterexample and path', { timeout: 120_000 }, async () => {
    const a = await checkProperty(opts);
    const b = await checkProperty(opts);
    expect(a.failed).toBe(true);
    expect(b.path).toBe(a.path);
    expect(b.counterexample!.commands.map(String)).toEqual(a.counterexample!.commands.map(String));
    expect(JSON.stringify(b.counterexample!.topology)).toBe(JSON.stringify(a.counterexample!.topology));
  });

  test('the printed seed and path replay the failure', { timeout: 120_000 }, async () => {
    const a = await checkProperty(opts);
    const again = await checkProperty({ ...opts, seed: a.seed, path: a.path!, replayPath: a.replayPath! });
    expect(again.failed).toBe(true);
    expect(again.counterexample!.commands.map(String)).toEqual(a.counterexample!.commands.map(String));
  });

  test('the reproduction script runs standalone and throws while the bug is there', {
    timeout: 120_000,
  }, async () => {
    const a = await checkProperty(opts);
    const rep = await replay(a.counterexample!, opts);
    expect(rep.failure?.violation.invariant).toBe('accounting');
    const meta = {
      property: 'accounting' as const,
      vendor: 'mock',
      seed: a.seed,
      path: a.path,
      replayPath: a.replayPath,
      faults: opts.faults,
    };
    // Beside the default .repro/ so the relative imports are the ones users get; removed after.
    const dir = join(import.meta.dirname, `../../.repro-test-${process.pid}`);
    const file = await writeRepro(dir, meta, a.counterexample!, rep);
    try {
      const text = renderRepro(meta, a.counterexample!, rep, dir);
      expect(text).toContain("from '../index.ts'");
      expect(readReproMeta(text)).toEqual(meta);
      await expect(import(file)).rejects.toThrow(/violation reproduced: the user of p\d+ is charged/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
