import type { FaultName } from '../../actors/runtime/faults.ts';
import type { VendorName } from '../../vendors/driver.ts';
import { brokenTwins } from '../faults.ts';
import { INVARIANTS, type InvariantName } from '../invariants/index.ts';
import type { Fixture } from '../world/build.ts';
import type { FailNthCampaign } from '../world/fail-nth-campaign.ts';
import { type CheckReport, checkProperty } from './check.ts';
import type { Coverage } from './coverage.ts';
import { checkMatrixOptions } from './options.ts';

/** Runs a broken-twin cell may take to find its failure, whatever `numRuns` says. */
export const TWIN_MIN_RUNS = 500;

/** One cell of the matrix: a property on a vendor, normally or with one broken twin switched on. */
export interface Cell {
  readonly property: InvariantName;
  readonly vendor: VendorName;
  /** A broken twin: the cell passes when the property catches it. */
  readonly fault?: FaultName;
}

export interface CellResult extends Cell {
  readonly report: CheckReport;
  /** pass: held (or, for a twin, was caught); fail: broke (or, for a twin, went unnoticed). */
  readonly verdict: 'pass' | 'fail';
}

export interface MatrixOptions {
  readonly properties: readonly InvariantName[];
  readonly vendors: readonly VendorName[];
  readonly numRuns: number;
  readonly seed: number;
  /** Switches on in every cell (a campaign against a known-broken build). */
  readonly faults?: readonly FaultName[];
  /** Also run each property's broken twins (expecting them caught). */
  readonly twins?: boolean;
  readonly maxCommands?: number;
  readonly fixture?: Fixture;
  readonly timeLimitMs?: number;
  /** Counts reached paths and command outcomes of every cell. */
  readonly coverage?: Coverage;
  /** Random fail-nth inside every run. */
  readonly failNth?: FailNthCampaign;
  /** Progress: called after every run of every cell. */
  readonly onRun?: (cell: Cell) => void;
  readonly onCell?: (result: CellResult) => void;
}

/** The cells a matrix runs, in order. */
export function matrixCells(opts: Pick<MatrixOptions, 'properties' | 'vendors' | 'twins'>): Cell[] {
  const cells: Cell[] = [];
  for (const property of opts.properties) {
    for (const vendor of opts.vendors) {
      cells.push({ property, vendor });
      if (opts.twins)
        for (const fault of brokenTwins(property, vendor)) cells.push({ property, vendor, fault });
    }
  }
  return cells;
}

/**
 * The fast-check seed of a cell: the campaign seed mixed with the cell's name (FNV-1a), so each
 * property × vendor cell draws its own cases instead of every property re-running the same ones.
 * A report carries it, so a failure replays from its cell seed alone.
 */
export function cellSeed(seed: number, cell: Cell): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (const ch of `${cell.property}/${cell.vendor}/${cell.fault ?? ''}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h | 0;
}

/** Runs every property on every vendor (and their twins), one cell after the other. */
export async function runMatrix(opts: MatrixOptions): Promise<CellResult[]> {
  checkMatrixOptions(opts);
  const results: CellResult[] = [];
  for (const cell of matrixCells(opts)) {
    const report = await checkProperty({
      invariants: [INVARIANTS[cell.property]],
      vendors: [cell.vendor],
      faults: [...(opts.faults ?? []), ...(cell.fault ? [cell.fault] : [])],
      // A twin cell stops at its first failure: give it room to find one.
      numRuns: cell.fault ? Math.max(opts.numRuns, TWIN_MIN_RUNS) : opts.numRuns,
      seed: cellSeed(opts.seed, cell),
      ...(opts.coverage === undefined ? {} : { coverage: opts.coverage }),
      ...(opts.maxCommands === undefined ? {} : { maxCommands: opts.maxCommands }),
      ...(opts.fixture === undefined ? {} : { fixture: opts.fixture }),
      ...(opts.timeLimitMs === undefined ? {} : { timeLimitMs: opts.timeLimitMs }),
      ...(opts.failNth === undefined ? {} : { failNth: opts.failNth }),
      onRun: () => opts.onRun?.(cell),
    });
    const verdict = report.failed === (cell.fault !== undefined) ? 'pass' : 'fail';
    const result = { ...cell, report, verdict } as const;
    results.push(result);
    opts.onCell?.(result);
  }
  return results;
}
