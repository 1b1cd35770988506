import { fc } from '@fast-check/vitest';

// Property runs are cheap on a PR and deep on demand: FC_NUM_RUNS=5000 npm test.
const numRuns = Number(process.env.FC_NUM_RUNS ?? 100);
const seedFromEnv = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
fc.configureGlobal({ numRuns, ...(seedFromEnv === undefined ? {} : { seed: seedFromEnv }) });
