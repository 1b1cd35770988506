import { defineConfig } from 'vitest/config';

/**
 * The killing tests for mutation testing (stryker.config.mjs): the property suites and the unit,
 * uAPI and scenario tests of the mutated code. MUTATION_SCOPE=smoke narrows them to the few files
 * that exercise the smoke scope's sources (see stryker.config.mjs).
 */
const NIGHTLY = [
  'test/props/**/*.test.ts',
  'test/scenarios/**/*.test.ts',
  'test/unit/vendors/**/*.test.ts',
  'test/unit/iommufd/**/*.test.ts',
  'test/uapi/**/*.test.ts',
];

const SMOKE = [
  'test/uapi/vfio-compat.test.ts',
  'test/unit/iommufd/vfio-compat.test.ts',
  'test/unit/vendors/intel-vtd/caches.test.ts',
  'test/unit/vendors/intel-vtd/encodings.test.ts',
  'test/unit/vendors/intel-vtd/nested.test.ts',
  'test/props/no-stale.test.ts',
];

export default defineConfig({
  test: {
    include: process.env.MUTATION_SCOPE === 'smoke' ? SMOKE : NIGHTLY,
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
    pool: 'threads',
  },
});
