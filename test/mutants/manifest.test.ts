import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INVARIANT_NAMES } from '../../props/index.ts';
import { VENDORS } from '../../vendors/registry.ts';
import { applyMutant, loadMutants, type Mutant, MutantApplyError } from './mutant.ts';

const ROOT = join(import.meta.dirname, '../..');
const mutants = await loadMutants();

describe('realistic bug patches (test/mutants/catalog)', () => {
  it('has at least twelve, with unique names', () => {
    expect(mutants.length).toBeGreaterThanOrEqual(12);
    expect(new Set(mutants.map((m) => m.name)).size).toBe(mutants.length);
  });

  it.each(mutants.map((m) => [m.name, m] as const))('%s still applies and changes its file', (_, m) => {
    const source = readFileSync(join(ROOT, m.file), 'utf8');
    for (const e of m.edits) expect(source.split(e.find).length - 1, `find of ${m.name}`).toBe(1);
    const mutated = applyMutant(source, m);
    expect(mutated).not.toBe(source);
    expect(mutated.length).not.toBe(0);
    expect(m.vendors.length).toBeGreaterThan(0);
    for (const v of m.vendors) expect(VENDORS).toContain(v);
    expect(m.expected.length).toBeGreaterThan(0);
    for (const p of m.expected) expect(INVARIANT_NAMES).toContain(p);
    expect(m.models.length).toBeGreaterThan(40);
  });

  it('refuses a find that matches twice or not at all', () => {
    const m: Mutant = {
      name: 'probe',
      models: 'x',
      file: 'f.ts',
      edits: [{ find: 'a', replace: 'b' }],
      vendors: ['mock'],
      expected: ['model'],
      needs: '',
    };
    expect(() => applyMutant('a a', m)).toThrow(MutantApplyError);
    expect(() => applyMutant('c', m)).toThrow(MutantApplyError);
    expect(applyMutant('ca', m)).toBe('cb');
  });
});
