// Mutation testing of the drivers and the iommufd core (`npm run mutation`). The whole scope is
// thousands of mutants: on two cores a night covers one folder, so MUTATION_SCOPE=<folder> (e.g.
// vendors/amd-vi, actors/iommufd) narrows it and incremental mode carries results across nights.
// MUTATION_SCOPE=smoke mutates two small pieces (`npm run mutation:smoke`, ~50 min here under load).
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

// iopt_cut_iova / iopt_area_split, and VT-d's cache_tag_flush_range + calculate_psi_aligned_address.
const SMOKE_MUTATE = [
  'actors/iommufd/iopt-cut.ts',
  'vendors/intel-vtd/cache-tags.ts:50-84',
  'vendors/intel-vtd/cache-tags.ts:115-136',
];

const scope = process.env.MUTATION_SCOPE ?? 'nightly';
const smoke = scope === 'smoke';
const EXCLUDES = NIGHTLY_MUTATE.filter((p) => p.startsWith('!'));
/** One folder of the nightly scope, with the same exclusions. */
const folder = (dir) => [`${dir.replace(/\/$/, '')}/**/*.ts`, ...EXCLUDES];
const MUTATE = smoke ? SMOKE_MUTATE : scope === 'nightly' ? NIGHTLY_MUTATE : folder(scope);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: MUTATE,
  coverageAnalysis: 'perTest',
  concurrency: 1,
  incremental: true,
  // One incremental file per scope: a run only reports the files it mutated.
  incrementalFile: `.stryker/incremental-${scope.replace(/[^a-z0-9]+/gi, '-')}.json`,
  // Property suites are slow per run; a surviving timeout is reported, not waited for forever.
  timeoutMS: 60_000,
  timeoutFactor: 2,
  // The machine is shared: the first (coverage) run of the suites may take a while.
  dryRunTimeoutMinutes: 30,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: `.stryker/report-${scope.replace(/[^a-z0-9]+/gi, '-')}.json` },
  htmlReporter: { fileName: `.stryker/report-${scope.replace(/[^a-z0-9]+/gi, '-')}.html` },
  tempDirName: '.stryker/tmp',
  cleanTempDir: 'always',
  ignorePatterns: ['.repro', '.mutants', '.stryker', 'coverage', 'bench'],
  thresholds: { high: 80, low: 60, break: null },
};
