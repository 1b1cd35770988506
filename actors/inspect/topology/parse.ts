import { isMap, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { checkReferences, type Issue } from './references.ts';
import { STEP_OPS, type Step, type StepOp, stepSchemas, type Topology, topologySchema } from './schema.ts';

/** A malformed topology: `file:line:col: problem`, one line, for people. */
export class TopologyError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${col}: ${problem}`);
    this.name = 'TopologyError';
  }
}

function zodIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): Issue[] {
  return error.issues.map((i) => {
    const path = [...prefix, ...i.path];
    // An unknown key is reported at the key itself, not at the object holding it.
    if (i.code === 'unrecognized_keys') {
      return {
        path,
        key: i.keys[0],
        message: `unknown key "${i.keys[0]}" (${i.keys.length > 1 ? 'and more ' : ''}not allowed here)`,
      };
    }
    if (i.code === 'invalid_type' && / received undefined$/.test(i.message)) {
      return { path, message: `missing (expected ${i.expected})` };
    }
    return { path, message: i.message };
  });
}

function parseSteps(raw: readonly Record<string, unknown>[]): { steps: Step[]; issues: Issue[] } {
  const steps: Step[] = [];
  const issues: Issue[] = [];
  raw.forEach((entry, i) => {
    const keys = Object.keys(entry);
    const path = ['scenario', i];
    if (keys.length !== 1) {
      issues.push({
        path,
        message: `a step has exactly one key, the operation (${STEP_OPS.join(', ')}); got ${keys.length}`,
      });
      return;
    }
    const op = keys[0] as StepOp;
    if (!STEP_OPS.includes(op)) {
      issues.push({ path, key: op, message: `unknown step "${op}": expected one of ${STEP_OPS.join(', ')}` });
      return;
    }
    const parsed = stepSchemas[op].safeParse(entry[op] ?? {});
    if (!parsed.success) issues.push(...zodIssues(parsed.error, [...path, op]));
    else steps.push({ op, args: parsed.data } as Step);
  });
  return { steps, issues };
}

/**
 * Parses and validates a topology written in YAML or JSON (JSON is YAML too, so one parser
 * keeps line and column for both). Throws a TopologyError at the first problem: YAML syntax,
 * an unknown key, a value of the wrong kind, a name that refers to nothing.
 */
export function parseTopology(text: string, file = '<topology>'): Topology {
  return parseTopologyDocument(text, file).topology;
}

/** `parseTopology`, plus a way to place a later problem (a build failure) at its line. */
export function parseTopologyDocument(
  text: string,
  file = '<topology>',
): { topology: Topology; locate: (issue: Issue) => TopologyError } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number, problem: string): TopologyError => {
    const { line, col } = lineCounter.linePos(offset);
    return new TopologyError(file, line, col, problem);
  };
  const syntax = doc.errors[0];
  if (syntax)
    throw at(syntax.pos[0], syntax.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''));
  const where = (issue: Issue): TopologyError => {
    let node = doc.getIn(issue.path as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (issue.key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown })?.value === issue.key);
      node = (pair?.key as typeof node) ?? node;
    }
    // A missing field is reported at the object that lacks it.
    for (let depth = issue.path.length; !node?.range && depth > 0; depth--) {
      node = doc.getIn(issue.path.slice(0, depth - 1) as unknown[], true) as typeof node;
    }
    const offset = node?.range?.[0] ?? (doc.contents as { range?: number[] } | null)?.range?.[0] ?? 0;
    const dotted = issue.path.map(String).join('.');
    return at(offset, dotted ? `${dotted}: ${issue.message}` : issue.message);
  };
  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
  const parsed = topologySchema.safeParse(data ?? {});
  if (!parsed.success) throw where(zodIssues(parsed.error)[0]!);
  const { steps, issues } = parseSteps(parsed.data.scenario ?? []);
  if (issues.length > 0) throw where(issues[0]!);
  const topology: Topology = {
    version: parsed.data.version,
    ...(parsed.data.seed === undefined ? {} : { seed: parsed.data.seed }),
    hosts: parsed.data.hosts,
    ...(parsed.data.scenario === undefined ? {} : { scenario: steps }),
  };
  const bad = checkReferences(topology)[0];
  if (bad) throw where(bad);
  return { topology, locate: where };
}
