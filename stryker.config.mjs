// Mutation testing of the drivers and the iommufd core (`npm run mutation`), sized for a nightly
// run on two cores. MUTATION_SCOPE=smoke mutates two files only (`npm run mutation:smoke`).
// The killing tests are in vitest.mutation.config.ts.

const NIGHTLY_MUTATE = [
  'vendors/**/*.ts',
  'actors/iommufd/**/*.ts',
  // Struct tables, uAPI constants and ioctl numbers: a mutant there is a typo in a table, not logic.
  '!actors/iommufd/uapi*.ts',
  '!actors/iommufd/ioctl-table.ts',
  '!actors/iommufd/struct.ts',
  '!actors/iommufd/errno.ts',
  '!vendors/**/index.ts',
  '!vendors/intel-vtd/fault-reasons.ts',
  '!vendors/intel-vtd/regs.ts',
  '!vendors/arm-smmuv3/regs.ts',
  '!vendors/amd-vi/regs.ts',
];

const SMOKE_MUTATE = ['actors/iommufd/iopt-cut.ts', 'vendors/intel-vtd/cache-tags.ts'];

const smoke = process.env.MUTATION_SCOPE === 'smoke';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: smoke ? SMOKE_MUTATE : NIGHTLY_MUTATE,
  coverageAnalysis: 'perTest',
  concurrency: 1,
  incremental: true,
  incrementalFile: smoke ? '.stryker/incremental-smoke.json' : '.stryker/incremental.json',
  // Property suites are slow per run; a surviving timeout is reported, not waited for forever.
  timeoutMS: 60_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: smoke ? '.stryker/report-smoke.json' : '.stryker/report.json' },
  htmlReporter: { fileName: smoke ? '.stryker/report-smoke.html' : '.stryker/report.html' },
  tempDirName: '.stryker/tmp',
  cleanTempDir: 'always',
  ignorePatterns: ['.repro', '.mutants', '.stryker', 'coverage', 'bench'],
  thresholds: { high: 80, low: 60, break: null },
};
