import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { VendorName } from '../../vendors/driver.ts';

/** The property names of `props/` (kept as strings so a renamed property shows up in the test). */
export type PropertyName =
  | 'isolation'
  | 'no-stale'
  | 'group-ownership'
  | 'accounting'
  | 'object-graph'
  | 'errno-atomicity'
  | 'model';

/** One textual edit: `find` must occur exactly once in the file. */
export interface Edit {
  readonly find: string;
  readonly replace: string;
}

/**
 * A realistic bug patch: a small change to one source file that reproduces a bug class fixed
 * upstream. Stored as find/replace text rather than a line diff, so unrelated edits of the same
 * file do not break it; the manifest test fails if `find` stops matching exactly once.
 */
export interface Mutant {
  readonly name: string;
  /** The upstream fix (or report) whose bug this reproduces: subject and a summary, no code. */
  readonly models: string;
  /** Path from the repository root. */
  readonly file: string;
  readonly edits: readonly Edit[];
  /** Vendors whose campaign should catch it. */
  readonly vendors: readonly VendorName[];
  /** The properties that should catch it (at least one). */
  readonly expected: readonly PropertyName[];
  /** What a campaign has to generate to reach the bug. */
  readonly needs: string;
}

export class MutantApplyError extends Error {}

function occurrences(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) n++;
  return n;
}

/** Applies every edit of `m` to `source`; throws unless each `find` occurs exactly once. */
export function applyMutant(source: string, m: Mutant): string {
  let out = source;
  for (const [i, e] of m.edits.entries()) {
    const n = occurrences(out, e.find);
    if (n !== 1) throw new MutantApplyError(`${m.name}: edit ${i} matches ${n} times in ${m.file}`);
    if (e.find === e.replace) throw new MutantApplyError(`${m.name}: edit ${i} changes nothing`);
    out = out.replace(e.find, () => e.replace);
  }
  return out;
}

export const CATALOG_DIR = join(import.meta.dirname, 'catalog');

/** Every mutant under catalog/ (one `.ts` file each, exporting `mutant`), sorted by name. */
export async function loadMutants(dir = CATALOG_DIR): Promise<Mutant[]> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  const out: Mutant[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { mutant?: Mutant };
    if (!mod.mutant) throw new Error(`${f} exports no mutant`);
    out.push(mod.mutant);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
