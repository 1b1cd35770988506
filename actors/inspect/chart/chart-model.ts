import type { AnyStateMachine } from 'xstate';

/** One state of a chart, with its children in document order. */
export interface ChartState {
  /** The StateNode id (`device.bound`), unique within the machine. */
  readonly id: string;
  readonly key: string;
  readonly type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Ids of the initial child (compound states). */
  readonly initial: readonly string[];
  readonly children: readonly ChartState[];
}

/** One transition: an `on` event, an `after` delay or an eventless `always`. */
export interface ChartEdge {
  readonly source: string;
  /** Empty for a targetless transition (actions only): drawn as a self-loop. */
  readonly targets: readonly string[];
  readonly trigger: { kind: 'event'; event: string } | { kind: 'after'; delay: string } | { kind: 'always' };
  readonly guard: string | undefined;
  readonly actions: readonly string[];
}

export interface ChartModel {
  readonly id: string;
  readonly root: ChartState;
  readonly edges: readonly ChartEdge[];
}

interface StateNodeLike {
  readonly id: string;
  readonly key: string;
  readonly type: ChartState['type'];
  readonly states: Record<string, StateNodeLike>;
  readonly initial?: { target: readonly StateNodeLike[] };
  readonly transitions: Map<string, readonly TransitionLike[]>;
  readonly always?: readonly TransitionLike[];
}

interface TransitionLike {
  readonly target?: readonly StateNodeLike[];
  readonly guard?: unknown;
  readonly actions: readonly unknown[];
  readonly delay?: string | number;
}

/** A name for a guard or action: its `type` when it has one, a function's name, else nothing. */
function nameOf(thing: unknown): string | undefined {
  if (typeof thing === 'string') return thing;
  if (thing === null || thing === undefined) return undefined;
  const type = (thing as { type?: unknown }).type;
  if (typeof type === 'string') return type.replace(/^xstate\./, '');
  if (typeof thing === 'function' && thing.name && thing.name !== 'anonymous') return thing.name;
  return undefined;
}

function guardName(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  return nameOf(guard) ?? 'inline';
}

function delayLabel(delay: string | number): string {
  return typeof delay === 'number' ? `${delay}ms` : delay;
}

function edgeOf(source: string, eventType: string | undefined, t: TransitionLike): ChartEdge {
  const trigger: ChartEdge['trigger'] =
    t.delay !== undefined
      ? { kind: 'after', delay: delayLabel(t.delay) }
      : eventType === undefined
        ? { kind: 'always' }
        : { kind: 'event', event: eventType };
  return {
    source,
    targets: (t.target ?? []).map((n) => n.id),
    trigger,
    guard: guardName(t.guard),
    actions: t.actions.map(nameOf).filter((a): a is string => a !== undefined),
  };
}

function stateOf(node: StateNodeLike, edges: ChartEdge[]): ChartState {
  for (const [eventType, list] of node.transitions) {
    // `after` transitions are keyed by a synthetic `xstate.after.<delay>.<id>` event; they carry `delay`.
    for (const t of list) edges.push(edgeOf(node.id, eventType, t));
  }
  for (const t of node.always ?? []) edges.push(edgeOf(node.id, undefined, t));
  return {
    id: node.id,
    key: node.key,
    type: node.type,
    initial: node.type === 'compound' ? (node.initial?.target ?? []).map((n) => n.id) : [],
    children: Object.values(node.states).map((child) => stateOf(child, edges)),
  };
}

/** The structure of any XState v5 machine, read from `machine.root`, in a renderer-neutral form. */
export function chartModel(machine: AnyStateMachine): ChartModel {
  const edges: ChartEdge[] = [];
  const root = stateOf(machine.root as unknown as StateNodeLike, edges);
  return { id: machine.id, root, edges };
}

/** Every state of the model, depth first. */
export function allStates(model: ChartModel): ChartState[] {
  const out: ChartState[] = [];
  const walk = (s: ChartState) => {
    out.push(s);
    for (const c of s.children) walk(c);
  };
  walk(model.root);
  return out;
}

/** `EVENT [guard] / a, b`: the label both renderers print on an edge. */
export function edgeLabel(edge: ChartEdge): string {
  const trigger =
    edge.trigger.kind === 'event'
      ? edge.trigger.event
      : edge.trigger.kind === 'after'
        ? `after ${edge.trigger.delay}`
        : 'always';
  const guard = edge.guard ? ` [${edge.guard}]` : '';
  const actions = edge.actions.length > 0 ? ` / ${edge.actions.join(', ')}` : '';
  return `${trigger}${guard}${actions}`;
}
