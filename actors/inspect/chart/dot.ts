import { allStates, type ChartModel, type ChartState, edgeLabel } from './chart-model.ts';
import { summaryLines } from './context-summary.ts';
import type { LiveState } from './live-state.ts';

const ACTIVE_FILL = '#fde68a';
const ACTIVE_CLUSTER_FILL = '#fef3c7';
const FONT = 'DejaVu Sans';

function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function dotId(stateId: string): string {
  return q(stateId);
}

/** Edges to or from a compound state attach to a point inside its cluster, clipped at the border. */
function anchorOf(s: ChartState): string {
  return q(`${s.id}::anchor`);
}

/**
 * Graphviz DOT: compound and parallel states become clusters (a parallel state's regions are
 * dashed clusters side by side), an initial state is pointed at by a dot, final states have a
 * double border, edges carry `EVENT [guard] / actions`. With `live`, active states are filled
 * and a note beside the chart lists the context summary and the transitions enabled next.
 */
export function toDot(model: ChartModel, live?: LiveState): string {
  // The root is always active: only the states below it say anything.
  const active = new Set((live?.active ?? []).filter((id) => id !== model.root.id));
  const byId = new Map(allStates(model).map((s) => [s.id, s]));
  const endpoint = (id: string) => {
    const s = byId.get(id);
    return s && s.children.length > 0 ? anchorOf(s) : dotId(id);
  };
  const out: string[] = [
    `digraph ${q(model.id)} {`,
    '  rankdir=LR; compound=true; newrank=true;',
    `  graph [fontname=${q(FONT)} fontsize=12];`,
    `  node [shape=box style="rounded,filled" fillcolor=white fontname=${q(FONT)} fontsize=11];`,
    `  edge [fontname=${q(FONT)} fontsize=9];`,
  ];

  const emit = (s: ChartState, pad: string, region: boolean) => {
    const on = active.has(s.id);
    if (s.children.length === 0) {
      const attrs = [`label=${q(s.key)}`];
      if (s.type === 'final') attrs.push('peripheries=2');
      if (on) attrs.push(`fillcolor=${q(ACTIVE_FILL)}`, 'penwidth=2');
      out.push(`${pad}${dotId(s.id)} [${attrs.join(' ')}];`);
      return;
    }
    const style = [region ? 'dashed' : 'rounded', ...(on ? ['filled'] : [])].join(',');
    const label = s.type === 'parallel' ? `${s.key} (parallel)` : s.key;
    out.push(`${pad}subgraph ${q(`cluster_${s.id}`)} {`);
    out.push(
      `${pad}  label=${q(label)}; style=${q(style)};${on ? ` fillcolor=${q(ACTIVE_CLUSTER_FILL)};` : ''}`,
    );
    out.push(`${pad}  ${anchorOf(s)} [shape=point style=invis width=0 height=0 label=""];`);
    for (const init of s.initial) {
      const dot = q(`${s.id}::initial`);
      out.push(`${pad}  ${dot} [shape=point width=0.12 style=filled fillcolor=black label=""];`);
      out.push(`${pad}  ${dot} -> ${endpoint(init)}${clusterAttr(byId.get(init), 'lhead')};`);
    }
    for (const child of s.children) emit(child, `${pad}  `, s.type === 'parallel');
    out.push(`${pad}}`);
  };

  emit(model.root, '  ', false);

  for (const e of model.edges) {
    const src = byId.get(e.source)!;
    const targets = e.targets.length > 0 ? e.targets : [e.source];
    for (const t of targets) {
      const dst = byId.get(t)!;
      const self = t === e.source;
      const attrs = [`label=${q(edgeLabel(e))}`];
      if (e.trigger.kind === 'after') attrs.push('style=dashed');
      if (e.trigger.kind === 'always') attrs.push('style=dotted');
      // Graphviz cannot clip a self-loop at a cluster border: such a loop stays on the anchor.
      if (!self) attrs.push(...clusterList(src, 'ltail'), ...clusterList(dst, 'lhead'));
      out.push(`  ${endpoint(e.source)} -> ${endpoint(t)} [${attrs.join(' ')}];`);
    }
  }

  if (live) {
    const rows = [
      `actor ${live.actorId} (${live.status})`,
      ...summaryLines(live.context),
      ...(live.next.length > 0 ? ['next:', ...live.next.map((n) => `  ${n}`)] : []),
    ];
    const label = rows.map((r) => `${r.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}\\l`).join('');
    out.push(`  "::live" [shape=note style=filled fillcolor="#f8fafc" fontsize=10 label="${label}"];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

function clusterList(s: ChartState | undefined, attr: 'ltail' | 'lhead'): string[] {
  return s && s.children.length > 0 ? [`${attr}=${q(`cluster_${s.id}`)}`] : [];
}

function clusterAttr(s: ChartState | undefined, attr: 'ltail' | 'lhead'): string {
  const l = clusterList(s, attr);
  return l.length > 0 ? ` [${l.join(' ')}]` : '';
}
