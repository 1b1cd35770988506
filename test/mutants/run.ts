/**
 * The mutant runner: `npm run mutants [-- --only name]... [--jobs n] [--out file] [--timeout s]`.
 *
 * For each realistic bug patch under catalog/, copies the source folders to a temporary tree
 * (node_modules symlinked), applies the patch (failing loudly if a `find` does not match exactly
 * once), runs the default property campaign for the mutant's vendors in a child process, and
 * records whether it was caught, by which property, the shrunk counterexample's length and the
 * time. Prints a table and writes JSON (default .mutants/results.json).
 */
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { CampaignCell } from './campaign.ts';
import { applyMutant, loadMutants, type Mutant } from './mutant.ts';

const ROOT = resolve(import.meta.dirname, '../..');
/** What a campaign needs from the tree; tests other than the runner's own are left out. */
const COPY = ['actors', 'machines', 'vendors', 'props', 'bin', 'index.ts', 'package.json', 'tsconfig.json'];

export interface MutantResult {
  readonly name: string;
  readonly models: string;
  readonly vendors: readonly string[];
  readonly expected: readonly string[];
  readonly caught: boolean;
  /** Properties whose cell failed, as property@vendor (kind). */
  readonly caughtBy: readonly string[];
  /** The shortest shrunk counterexample over the failing cells. */
  readonly shrunkLength: number | undefined;
  readonly firstMessage: string | undefined;
  readonly timeMs: number;
  readonly error: string | undefined;
  readonly cells: readonly CampaignCell[];
}

/** A temporary tree with `m` applied. */
export function mutatedTree(m: Mutant): string {
  const dir = mkdtempSync(join(tmpdir(), `mutant-${m.name}-`));
  for (const p of COPY) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  mkdirSync(join(dir, 'test'), { recursive: true });
  cpSync(join(ROOT, 'test/mutants'), join(dir, 'test/mutants'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const file = join(dir, m.file);
  writeFileSync(file, applyMutant(readFileSync(file, 'utf8'), m));
  return dir;
}

function runChild(
  cwd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), args, {
      cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stderr });
    });
  });
}

export async function runMutant(m: Mutant, timeoutMs: number): Promise<MutantResult> {
  const start = performance.now();
  const base = { name: m.name, models: m.models, vendors: m.vendors, expected: m.expected };
  const dir = mutatedTree(m);
  try {
    const out = join(dir, 'campaign.json');
    const { code, stderr } = await runChild(dir, ['test/mutants/campaign.ts', out, ...m.vendors], timeoutMs);
    const timeMs = Math.round(performance.now() - start);
    if (!existsSync(out)) {
      // A mutant that stops the campaign itself (crash at import, hang) is caught, but not by a property.
      const error =
        code === null
          ? `timed out after ${timeoutMs / 1000}s`
          : stderr.trim().split('\n').slice(-3).join(' | ');
      return {
        ...base,
        caught: true,
        caughtBy: ['(campaign crashed)'],
        shrunkLength: undefined,
        firstMessage: undefined,
        timeMs,
        error,
        cells: [],
      };
    }
    const cells = JSON.parse(readFileSync(out, 'utf8')) as CampaignCell[];
    const failed = cells.filter((c) => c.failed);
    const lengths = failed.map((c) => c.shrunkLength).filter((n): n is number => n !== undefined);
    return {
      ...base,
      caught: failed.length > 0,
      caughtBy: failed.map((c) => `${c.property}@${c.vendor}${c.kind === 'exception' ? ' (exception)' : ''}`),
      shrunkLength: lengths.length ? Math.min(...lengths) : undefined,
      firstMessage: failed[0]?.message,
      timeMs,
      error: undefined,
      cells,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function table(results: readonly MutantResult[]): string {
  const head = ['mutant', 'vendors', 'caught', 'by', 'shrunk', 'time'];
  const rows = results.map((r) => [
    r.name,
    r.vendors.join(','),
    r.caught ? 'yes' : 'NO',
    r.caughtBy.join(', '),
    r.shrunkLength === undefined ? '' : String(r.shrunkLength),
    `${(r.timeMs / 1000).toFixed(0)}s`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const caught = results.filter((r) => r.caught).length;
  return [
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `caught ${caught}/${results.length}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', multiple: true },
      jobs: { type: 'string' },
      out: { type: 'string' },
      timeout: { type: 'string' },
    },
  });
  const all = await loadMutants();
  const only = values.only ?? [];
  for (const n of only) if (!all.some((m) => m.name === n)) throw new Error(`no mutant named ${n}`);
  const chosen = only.length ? all.filter((m) => only.includes(m.name)) : all;
  // Fail before any campaign if a patch no longer applies.
  for (const m of chosen) applyMutant(readFileSync(join(ROOT, m.file), 'utf8'), m);
  const jobs = Math.min(2, Math.max(1, Number(values.jobs ?? 1)));
  const timeoutMs = Number(values.timeout ?? 900) * 1000;
  const out = resolve(values.out ?? join(ROOT, '.mutants/results.json'));
  const results: MutantResult[] = new Array(chosen.length);
  let next = 0;
  const worker = async () => {
    while (next < chosen.length) {
      const i = next++;
      const m = chosen[i]!;
      const r = await runMutant(m, timeoutMs);
      results[i] = r;
      const by = r.caught ? `caught by ${r.caughtBy.join(', ')}` : 'NOT caught';
      console.error(
        `${m.name}: ${by}${r.shrunkLength === undefined ? '' : `, shrunk to ${r.shrunkLength}`} (${(r.timeMs / 1000).toFixed(0)}s)`,
      );
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, JSON.stringify(results.filter(Boolean), null, 2));
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  console.log(table(results));
  console.log(`\nresults: ${out}`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) await main();
