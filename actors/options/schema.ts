import { FarmOptionError } from '../runtime/farm-errors.ts';
import { describeValue } from './describe.ts';

/**
 * A small option checker for the farm's builder calls. They run once per host, IOMMU, device or
 * process, so clarity beats speed here; the per-transaction `dma()` has its own hand check.
 */
export interface Spec {
  /** Said in the error, after "must be". */
  readonly expected: string;
  test(v: unknown): boolean;
}

export type Shape = Readonly<Record<string, Spec>>;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export const int = (min: number, max: number): Spec => ({
  expected: `an integer in ${min}..${max}`,
  test: (v) => isInt(v) && v >= min && v <= max,
});

export const bigintIn = (min: bigint, max: bigint, what = `a bigint in ${min}..${max}`): Spec => ({
  expected: what,
  test: (v) => typeof v === 'bigint' && v >= min && v <= max,
});

export const bool: Spec = { expected: 'a boolean', test: (v) => typeof v === 'boolean' };

export const name: Spec = {
  expected: 'a non-empty string',
  test: (v) => typeof v === 'string' && v.length > 0,
};

export const oneOf = <T>(values: readonly T[]): Spec => ({
  expected: `one of ${values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ')}`,
  test: (v) => values.includes(v as T),
});

export const matches = (re: RegExp, what: string): Spec => ({
  expected: what,
  test: (v) => typeof v === 'string' && re.test(v),
});

export const fn: Spec = { expected: 'a function', test: (v) => typeof v === 'function' };

export const arrayOf = (item: Spec, minLength = 0): Spec => ({
  expected: `an array${minLength > 0 ? ` of at least ${minLength}` : ''} of ${item.expected.replace(/^(a|an|one of) /, '')}`,
  test: (v) => Array.isArray(v) && v.length >= minLength && v.every((x) => item.test(x)),
});

export const anything: Spec = { expected: 'anything', test: () => true };

/**
 * Checks `value` against `shape`: an object, no key outside the shape, every `required` key
 * present, every present key of the right type and range. Throws FarmOptionError naming the
 * first bad option. `undefined` counts as absent.
 */
export function checkOptions(
  entry: string,
  value: unknown,
  shape: Shape,
  required: readonly string[] = [],
): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FarmOptionError(entry, 'options', 'an object', describeValue(value));
  }
  const rec = value as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    if (!Object.hasOwn(shape, key)) {
      const known = Object.keys(shape).join(', ');
      throw new FarmOptionError(entry, key, `one of the known options (${known})`, 'an unknown option');
    }
  }
  for (const key of required) {
    if (rec[key] === undefined) {
      throw new FarmOptionError(entry, key, `given (${shape[key]!.expected})`, 'nothing');
    }
  }
  for (const [key, spec] of Object.entries(shape)) {
    const v = rec[key];
    if (v !== undefined && !spec.test(v))
      throw new FarmOptionError(entry, key, spec.expected, describeValue(v));
  }
}
