/**
 * The options of `checkProperty` and `runMatrix`, checked before a campaign starts: a typo in a
 * vendor, a fractional run count or a seed fast-check cannot replay fails at once, with a
 * FarmOptionError naming the option, instead of after minutes of runs (or never).
 */

import {
  anything,
  arrayOf,
  bigintIn,
  bool,
  checkOptions,
  fn,
  int,
  matches,
  oneOf,
  type Shape,
  type Spec,
} from '../../actors/options/schema.ts';
import { FAULT_NAMES } from '../../actors/runtime/faults.ts';
import { VENDORS } from '../../vendors/registry.ts';
import { DEFAULT_WEIGHTS } from '../commands/index.ts';
import { INVARIANT_NAMES } from '../invariants/index.ts';
import { FIXTURES } from '../world/build.ts';
import { Coverage } from './coverage.ts';

/** fast-check seeds are 32-bit; it prints them signed. */
const seed = int(-(2 ** 31), 2 ** 32 - 1);
const positive = int(1, 1e9);
const milliseconds: Spec = {
  expected: 'a positive number of milliseconds',
  test: (v) => typeof v === 'number' && v > 0 && Number.isFinite(v),
};
const invariant: Spec = {
  expected: 'an invariant (an object with a name and a check function)',
  test: (v) => typeof v === 'object' && v !== null && typeof (v as { check?: unknown }).check === 'function',
};

const coverage: Spec = {
  expected: 'a Coverage collector (new Coverage())',
  test: (v) => v instanceof Coverage,
};

const TOPOLOGY: Shape = {
  maxHosts: int(1, 16),
  maxIommus: int(1, 16),
  maxDevices: int(1, 64),
  maxProcesses: int(1, 16),
  sharedGroupBias: { expected: 'a number in 0..1', test: (v) => typeof v === 'number' && v >= 0 && v <= 1 },
};

const COMMANDS: Shape = {
  weights: anything,
  kindWeights: anything,
  edges: arrayOf(bigintIn(0n, (1n << 64n) - 1n, 'a 64-bit bigint IOVA')),
  granules: arrayOf(bigintIn(1n, 1n << 40n, 'a positive bigint')),
};

const WEIGHT: Shape = Object.fromEntries(Object.keys(DEFAULT_WEIGHTS).map((k) => [k, int(0, 1000)]));
const KIND_WEIGHT: Shape = Object.fromEntries(
  ['area', 'usable', 'unmapped', 'abs'].map((k) => [k, int(0, 1000)]),
);

const PROPERTY: Shape = {
  invariants: arrayOf(invariant, 1),
  vendors: arrayOf(oneOf(VENDORS), 1),
  faults: arrayOf(oneOf(FAULT_NAMES)),
  maxCommands: int(1, 10_000),
  topology: anything,
  fixture: oneOf(FIXTURES),
  replayPath: { expected: 'a string', test: (v) => typeof v === 'string' },
  onRun: fn,
  commands: anything,
  coverage,
};

function checkNested(entry: string, opts: Record<string, unknown>): void {
  if (opts.topology !== undefined) checkOptions(`${entry}.topology`, opts.topology, TOPOLOGY);
  const commands = opts.commands as Record<string, unknown> | undefined;
  if (commands === undefined) return;
  checkOptions(`${entry}.commands`, commands, COMMANDS);
  if (commands.weights !== undefined) checkOptions(`${entry}.commands.weights`, commands.weights, WEIGHT);
  if (commands.kindWeights !== undefined) {
    checkOptions(`${entry}.commands.kindWeights`, commands.kindWeights, KIND_WEIGHT);
  }
}

export function checkCheckOptions(opts: unknown): void {
  checkOptions(
    'checkProperty',
    opts,
    {
      ...PROPERTY,
      numRuns: positive,
      seed,
      path: matches(/^(\d+(:\d+)*)?$/, "a fast-check path such as '12:0:3'"),
      timeLimitMs: milliseconds,
    },
    ['invariants', 'vendors'],
  );
  checkNested('checkProperty', opts as Record<string, unknown>);
}

export function checkMatrixOptions(opts: unknown): void {
  checkOptions(
    'runMatrix',
    opts,
    {
      properties: arrayOf(oneOf(INVARIANT_NAMES), 1),
      vendors: arrayOf(oneOf(VENDORS), 1),
      numRuns: positive,
      seed,
      faults: arrayOf(oneOf(FAULT_NAMES)),
      twins: bool,
      maxCommands: int(1, 10_000),
      fixture: oneOf(FIXTURES),
      timeLimitMs: milliseconds,
      onRun: fn,
      onCell: fn,
      coverage,
    },
    ['properties', 'vendors', 'numRuns', 'seed'],
  );
}
