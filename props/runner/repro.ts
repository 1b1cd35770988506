import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FaultName } from '../../actors/runtime/faults.ts';
import { type Invariant, type InvariantName, PropertyFailure } from '../invariants/invariant.ts';
import type { Fixture } from '../world/build.ts';
import { lit } from '../world/code.ts';
import type { World } from '../world/world.ts';
import type { Counterexample } from './check.ts';
import { runScenario } from './scenario.ts';

/** Where a failure came from: enough to replay it with fast-check. */
export interface ReproMeta {
  readonly property: InvariantName;
  readonly vendor: string;
  readonly seed: number;
  readonly path: string | undefined;
  readonly replayPath?: string | undefined;
  readonly faults: readonly FaultName[];
  readonly fixture?: Fixture;
}

export interface Replay {
  readonly world: World | undefined;
  readonly failure: PropertyFailure | undefined;
  /** Anything else the replay threw. */
  readonly error: unknown;
}

/** Runs a counterexample once more, keeping the world (and its transcript). */
export async function replay(
  ce: Counterexample,
  opts: { invariants: readonly Invariant[]; faults?: readonly FaultName[]; fixture?: Fixture },
): Promise<Replay> {
  let world: World | undefined;
  try {
    await runScenario(
      { topology: ce.topology, commands: ce.commands, plan: ce.plan },
      { ...opts, onWorld: (w) => (world = w) },
    );
    return { world, failure: undefined, error: undefined };
  } catch (err) {
    return { world, failure: PropertyFailure.is(err) ? err : undefined, error: err };
  }
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// Reproductions import the package root next to this module: source (.ts) or the built dist/ (.js).
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const MARK = '// @iommu-farm-replay ';

/** What a reproduction may call from iommu-farm/props (imported only when used). */
const HELPERS = [
  'attempt',
  'check',
  'deliver',
  'fillBuffer',
  'groupOwners',
  'objects',
  'planPolicy',
  'settle',
  'snapshotCtx',
  'writeData',
];

/**
 * A standalone TypeScript reproduction: the concrete calls the shrunk case made (public API of
 * the package root), then the assertion that fails while the bug is there. Its header also
 * carries the fast-check replay data and the positional script.
 */
export function renderRepro(meta: ReproMeta, ce: Counterexample, rep: Replay, dir: string): string {
  const rel = (p: string) => {
    const r = relative(dir, join(ROOT, p)).replaceAll('\\', '/');
    return r.startsWith('.') ? r : `./${r}`;
  };
  const w = rep.world;
  const f = rep.failure;
  const out: string[] = [
    `// iommu-farm reproduction: ${meta.property} on ${meta.vendor}`,
    `// ${f ? f.message : String((rep.error as Error)?.message ?? rep.error ?? 'no failure on replay')}`,
    `// fast-check: seed ${meta.seed}, path ${lit(meta.path ?? '')}, replayPath ${lit(meta.replayPath ?? '')}`,
    '// Replay the shrunk case in fast-check: npx tsx bin/iommu-farm.ts props --replay <this file>',
    `${MARK}${JSON.stringify({ ...meta, path: meta.path ?? null })}`,
    '//',
    `// Topology: ${JSON.stringify(ce.topology)}`,
    `// Delivery plan: ${JSON.stringify(ce.plan)}`,
    '// Shrunk command script (positional, for ScriptWorld from iommu-farm/props):',
    ...ce.commands.map((c) => `//   ${c.toString()}`),
    '',
  ];
  const body: string[] = [];
  if (w) {
    body.push(...w.header);
    for (const step of w.steps) {
      body.push(
        '',
        `// ${step.index === 0 ? 'fixture' : `step ${step.index}: ${step.label}`}`,
        ...step.lines,
      );
      if (f && f.step.index === step.index) {
        body.push(`// ✗ ${f.violation.invariant}: ${f.violation.message}`, ...f.violation.witness);
        break;
      }
    }
  }
  const text = body.join('\n');
  const helpers = HELPERS.filter((h) => new RegExp(`\\b${h}\\(`).test(text));
  out.push(`import { createFarm } from '${rel(`index${EXT}`)}';`);
  if (helpers.length > 0) out.push(`import { ${helpers.join(', ')} } from '${rel(`props/index${EXT}`)}';`);
  out.push('', ...body);
  out.push('', "console.log('no violation reproduced');", '');
  return out.join('\n');
}

/** Writes the reproduction as `<dir>/<property>-<vendor>-<seed>.ts`; returns its path. */
export async function writeRepro(
  dir: string,
  meta: ReproMeta,
  ce: Counterexample,
  rep: Replay,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${meta.property}-${meta.vendor}-${meta.seed}.ts`);
  await writeFile(file, renderRepro(meta, ce, rep, dir));
  return file;
}

/** The replay data in a reproduction file's header, if any. */
export function readReproMeta(source: string): ReproMeta | undefined {
  const line = source.split('\n').find((l) => l.startsWith(MARK));
  if (!line) return undefined;
  const meta = JSON.parse(line.slice(MARK.length)) as ReproMeta & { path: string | null };
  return { ...meta, path: meta.path ?? undefined };
}
