import type { Model } from '../model/model.ts';
import type { StepRecord } from '../world/step.ts';
import type { World } from '../world/world.ts';

export type InvariantName =
  | 'isolation'
  | 'no-stale'
  | 'group-ownership'
  | 'accounting'
  | 'object-graph'
  | 'errno-atomicity'
  | 'model';

/** A broken invariant: what went wrong and code that asserts it in a reproduction script. */
export interface Violation {
  readonly invariant: InvariantName;
  readonly message: string;
  /** Lines appended after the failing step in a reproduction: they throw while the bug is there. */
  readonly witness: readonly string[];
}

export interface InvariantContext {
  readonly world: World;
  readonly model: Readonly<Model>;
  readonly step: StepRecord;
}

/** A property of the farm checked after every step of a model run. */
export interface Invariant {
  readonly name: InvariantName;
  /** One line for tables and reports. */
  readonly title: string;
  check(ctx: InvariantContext): Violation | undefined;
}

const FAILURE = Symbol.for('iommu-farm/PropertyFailure');

/** Thrown out of a model run when an invariant breaks; fast-check then shrinks. */
export class PropertyFailure extends Error {
  readonly [FAILURE] = true;
  constructor(
    readonly violation: Violation,
    readonly step: StepRecord,
  ) {
    super(`${violation.invariant} broken at step ${step.index} (${step.label}): ${violation.message}`);
    this.name = 'PropertyFailure';
  }

  static is(err: unknown): err is PropertyFailure {
    return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[FAILURE] === true;
  }
}
