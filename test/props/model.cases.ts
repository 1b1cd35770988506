import { describe } from 'vitest';
import { invariantSuite } from './suite.ts';

// Not a kernel property: the model agrees with the farm, so the other invariants judge right.
describe('model', () => invariantSuite('model'));
