import { describe } from 'vitest';
import { invariantSuite } from './suite.ts';

describe('no-stale', () => invariantSuite('no-stale'));
