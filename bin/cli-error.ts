import { type ParseArgsConfig, parseArgs } from 'node:util';

/** Bad input on the command line or in a file: one line on stderr, exit status 2, no stack. */
export function badInput(message: string): never {
  console.error(`iommu-farm: ${message.split('\n')[0]}`);
  process.exit(2);
}

/** `parseArgs`, with an unknown or malformed option reported as bad input. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    badInput((err as Error).message);
  }
}

/** A non-negative integer option, or bad input. */
export function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    badInput(`--${name} needs a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}
