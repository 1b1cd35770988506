import { accounting } from './accounting.ts';
import { errnoAtomicity } from './errno-atomicity.ts';
import { groupOwnership } from './group-ownership.ts';
import type { Invariant, InvariantName } from './invariant.ts';
import { isolation } from './isolation.ts';
import { modelAgreement } from './model-agreement.ts';
import { noStale } from './no-stale.ts';
import { objectGraph } from './object-graph.ts';

export {
  type Invariant,
  type InvariantContext,
  type InvariantName,
  PropertyFailure,
  type Violation,
} from './invariant.ts';
export { accounting, errnoAtomicity, groupOwnership, isolation, modelAgreement, noStale, objectGraph };

/** Every invariant, by name; `model` checks the model itself. */
export const INVARIANTS: Readonly<Record<InvariantName, Invariant>> = {
  isolation,
  'no-stale': noStale,
  'group-ownership': groupOwnership,
  accounting,
  'object-graph': objectGraph,
  'errno-atomicity': errnoAtomicity,
  model: modelAgreement,
};

export const INVARIANT_NAMES = Object.keys(INVARIANTS) as InvariantName[];
