import { allStates, type ChartModel, type ChartState, edgeLabel } from './chart-model.ts';
import { summaryLines } from './context-summary.ts';
import type { LiveState } from './live-state.ts';

/** Mermaid ids allow letters, digits and `_` only; state ids carry dots and dashes. */
export function mermaidId(stateId: string): string {
  return `s_${stateId.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** Label text Mermaid would misread (`:` starts a description, `;` ends a statement, `#` an entity). */
function text(s: string): string {
  return s
    .replace(/[:;#"]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * A Mermaid `stateDiagram-v2`: the root is one composite state (so a parallel root can use `--`,
 * which Mermaid accepts only inside a composite), compound states nest, parallel regions are
 * separated by `--`, `[*]` marks initial and final states, every edge is labelled
 * `EVENT [guard] / actions`. With `live`, the active configuration gets `class active` and a
 * note lists the context summary and the transitions enabled next.
 */
export function toMermaid(model: ChartModel, live?: LiveState): string {
  const lines = ['stateDiagram-v2'];
  const edgesBySource = new Map<string, typeof model.edges>();
  for (const e of model.edges) edgesBySource.set(e.source, [...(edgesBySource.get(e.source) ?? []), e]);

  const emitEdges = (state: ChartState, pad: string) => {
    for (const e of edgesBySource.get(state.id) ?? []) {
      const from = mermaidId(e.source);
      const targets = e.targets.length > 0 ? e.targets : [e.source];
      for (const t of targets) lines.push(`${pad}${from} --> ${mermaidId(t)} : ${text(edgeLabel(e))}`);
    }
  };

  const emit = (state: ChartState, pad: string) => {
    const id = mermaidId(state.id);
    if (state.children.length === 0) {
      lines.push(`${pad}state "${text(state.key)}" as ${id}`);
      if (state.type === 'final') lines.push(`${pad}${id} --> [*]`);
      return;
    }
    lines.push(`${pad}state "${text(state.key)}${state.type === 'parallel' ? ' (parallel)' : ''}" as ${id}`);
    lines.push(`${pad}state ${id} {`);
    const inner = `${pad}  `;
    state.children.forEach((child, i) => {
      if (state.type === 'parallel' && i > 0) lines.push(`${inner}--`);
      emit(child, inner);
      // A parallel region's transitions stay inside it: Mermaid splits regions at `--`.
      if (state.type === 'parallel') emitEdges(child, inner);
    });
    for (const init of state.initial) lines.push(`${inner}[*] --> ${mermaidId(init)}`);
    if (state.type !== 'parallel') for (const child of state.children) emitEdges(child, inner);
    lines.push(`${pad}}`);
  };

  emit(model.root, '  ');
  emitEdges(model.root, '  ');

  if (live) {
    lines.push('  classDef active fill:#fde68a,stroke:#b45309,stroke-width:2px');
    // Mermaid styles simple states only (a class on a composite state is refused): the active
    // leaves say it all, since their ancestors are active with them.
    const leaves = new Set(
      allStates(model)
        .filter((s) => s.children.length === 0 && s.id !== model.root.id)
        .map((s) => s.id),
    );
    const active = live.active.filter((id) => leaves.has(id));
    if (active.length > 0) lines.push(`  class ${active.map(mermaidId).join(',')} active`);
    const note = [
      `actor ${live.actorId} (${live.status})`,
      ...summaryLines(live.context),
      ...(live.next.length > 0 ? ['next', ...live.next] : []),
    ];
    lines.push(`  note right of ${mermaidId(model.root.id)}`);
    for (const l of note) lines.push(`    ${l.replace(/[;#]/g, ' ')}`);
    lines.push('  end note');
  }
  return `${lines.join('\n')}\n`;
}
