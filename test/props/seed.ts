/**
 * The seed of every property test: FC_SEED when given (CI may pin one per run), else a fixed
 * one so `npm test` is deterministic. It goes in describe titles, so a failure names it.
 */
export const SEED = process.env.FC_SEED === undefined ? 20261121 : Number(process.env.FC_SEED);

/** Runs for the passing side of each property: modest under `npm test`; PROPS_RUNS=500 for more. */
export const RUNS = Number(process.env.PROPS_RUNS ?? 12);

/** Runs allowed to find a broken twin (it stops at the first failure). */
export const TWIN_RUNS = Number(process.env.PROPS_TWIN_RUNS ?? 250);

/**
 * Wall-clock cap for the passing side (fast-check's interruptAfterTimeLimit), so the suite's
 * time stays bounded as vendors are added; the CLI is for long campaigns. A passing test that
 * hits the cap has still run every case it started. Broken twins have no such cap: whether a
 * twin is caught must depend on the seed alone, never on the machine's load.
 */
export const PASS_LIMIT_MS = Number(process.env.PROPS_PASS_LIMIT_MS ?? 4_000);
