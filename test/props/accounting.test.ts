import { describe } from 'vitest';
import { invariantSuite } from './suite.ts';

describe('accounting', () => invariantSuite('accounting'));
