import type { AnyActorRef, AnyStateMachine } from 'xstate';
import { chartModel } from './chart-model.ts';
import { toDot } from './dot.ts';
import { type LiveState, liveState } from './live-state.ts';
import { toMermaid } from './mermaid.ts';
import { dotToSvg, svgToPng } from './render.ts';

export const CHART_FORMATS = ['mermaid', 'dot', 'svg', 'png', 'json'] as const;
export type ChartFormat = (typeof CHART_FORMATS)[number];

export interface ChartOptions<F extends ChartFormat = ChartFormat> {
  readonly format: F;
  /** PNG zoom (default 2). */
  readonly scale?: number;
}

/** What `chart` gives for each format: text, or PNG bytes. */
export type ChartOutput<F extends ChartFormat> = F extends 'png' ? Uint8Array : string;

/**
 * What `chart` takes: an XState v5 machine (it has a `root` state node) or a running actor
 * (`getSnapshot`). Structural, so the published declarations need not name XState's types,
 * which do not typecheck under `exactOptionalPropertyTypes`.
 */
export type ChartTarget = { readonly root: object } | { getSnapshot(): unknown };

function isActorRef(x: unknown): x is AnyActorRef {
  return typeof x === 'object' && x !== null && 'getSnapshot' in x && 'send' in x && 'logic' in x;
}

function machineOf(target: ChartTarget): { machine: AnyStateMachine; live?: LiveState } {
  if (!isActorRef(target)) return { machine: target as AnyStateMachine };
  const logic = (target as { logic?: unknown }).logic as AnyStateMachine | undefined;
  if (!logic || !('root' in logic)) throw new TypeError(`actor ${target.id} does not run a state machine`);
  return { machine: logic, live: liveState(target) };
}

/**
 * A state chart of any XState v5 machine, or of a running actor with its current configuration
 * highlighted, its context summarised and its next transitions listed. `mermaid` and `dot` are
 * generated from `machine.root`; `svg` and `png` are rendered offline from the DOT; `json` is
 * XState's own `machine.toJSON()` (plus the live overlay for an actor).
 */
export async function chart<F extends ChartFormat>(
  target: ChartTarget,
  options: ChartOptions<F>,
): Promise<ChartOutput<F>> {
  const { machine, live } = machineOf(target);
  const model = chartModel(machine);
  const format: ChartFormat = options.format;
  switch (format) {
    case 'mermaid':
      return toMermaid(model, live) as ChartOutput<F>;
    case 'dot':
      return toDot(model, live) as ChartOutput<F>;
    case 'svg':
      return (await dotToSvg(toDot(model, live))) as ChartOutput<F>;
    case 'png':
      return svgToPng(await dotToSvg(toDot(model, live)), options.scale) as ChartOutput<F>;
    case 'json':
      return `${JSON.stringify(live ? { machine: machine.toJSON(), live } : machine.toJSON(), null, 2)}\n` as ChartOutput<F>;
    default:
      throw new TypeError(`unknown chart format ${String(format)} (one of ${CHART_FORMATS.join(', ')})`);
  }
}
