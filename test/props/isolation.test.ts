import { describe } from 'vitest';
import { invariantSuite } from './suite.ts';

describe('isolation', () => invariantSuite('isolation'));
