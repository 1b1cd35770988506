import { describe } from 'vitest';
import { invariantSuite } from './suite.ts';

describe('object-graph', () => invariantSuite('object-graph'));
