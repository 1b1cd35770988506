import { describe } from 'vitest';
import { invariantSuite } from './suite.ts';

describe('errno-atomicity', () => invariantSuite('errno-atomicity'));
