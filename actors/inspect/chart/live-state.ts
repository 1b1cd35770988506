import { type AnyActorRef, type AnyMachineSnapshot, type AnyStateMachine, getNextTransitions } from 'xstate';
import { type ChartEdge, edgeLabel } from './chart-model.ts';
import { type Json, summarizeContext } from './context-summary.ts';

/** What a chart of a running actor adds to the machine's structure. */
export interface LiveState {
  readonly actorId: string;
  /** Ids of every active state node, root included. */
  readonly active: readonly string[];
  readonly value: Json;
  readonly status: string;
  readonly context: Json;
  /** The transitions enabled from the current configuration, as edge labels with their target. */
  readonly next: readonly string[];
}

interface NodeLike {
  readonly id: string;
  readonly key: string;
  readonly type: string;
  readonly states: Record<string, NodeLike>;
}

/** Ids of the state nodes a `snapshot.value` names, walked from the root (public data only). */
export function activeStateIds(machine: AnyStateMachine, value: unknown): string[] {
  const out: string[] = [];
  const walk = (node: NodeLike, v: unknown) => {
    out.push(node.id);
    if (typeof v === 'string') {
      const child = node.states[v];
      if (child) walk(child, undefined);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, sub] of Object.entries(v)) {
        const child = node.states[k];
        if (child) walk(child, sub);
      }
    }
  };
  walk(machine.root as unknown as NodeLike, value);
  return out;
}

function nextLabels(snapshot: AnyMachineSnapshot): string[] {
  const labels = getNextTransitions(snapshot).map((t) => {
    const delay = (t as { delay?: string | number }).delay;
    const trigger: ChartEdge['trigger'] =
      delay !== undefined
        ? { kind: 'after', delay: typeof delay === 'number' ? `${delay}ms` : delay }
        : t.eventType === ''
          ? { kind: 'always' }
          : { kind: 'event', event: t.eventType };
    const edge: ChartEdge = {
      source: t.source.id,
      targets: (t.target ?? []).map((n) => n.id),
      trigger,
      guard: typeof t.guard === 'string' ? t.guard : undefined,
      actions: [],
    };
    const to = edge.targets.length > 0 ? edge.targets.map((id) => id.split('.').pop()).join(', ') : 'self';
    return `${edgeLabel(edge)} → ${to}`;
  });
  return [...new Set(labels)];
}

/** The live overlay of a machine actor: active configuration, context summary, what can happen next. */
export function liveState(ref: AnyActorRef): LiveState {
  const machine = (ref as { logic?: unknown }).logic as AnyStateMachine;
  const snapshot = ref.getSnapshot() as AnyMachineSnapshot;
  return {
    actorId: (ref as { systemId?: string }).systemId ?? ref.id,
    active: activeStateIds(machine, snapshot.value),
    value: summarizeContext(snapshot.value),
    status: snapshot.status,
    context: summarizeContext(snapshot.context),
    next: snapshot.status === 'active' ? nextLabels(snapshot) : [],
  };
}
