import { describe } from 'vitest';
import { invariantSuite } from './suite.ts';

describe('group-ownership', () => invariantSuite('group-ownership'));
