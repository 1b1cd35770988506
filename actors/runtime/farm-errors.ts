/**
 * Errors of the farm itself, as opposed to the kernel's: a bad option at the API boundary, and a
 * call that can never finish because nothing drives the farm. uAPI failures stay `IommufdError`.
 */

/** An option of `createFarm`, `addHost`, `addIommu`, `addDevice`, `spawnProcess`, `dma` or a props runner is wrong. */
export class FarmOptionError extends TypeError {
  override readonly name = 'FarmOptionError';

  constructor(
    /** Where the option was passed, e.g. `dma` or `host.addDevice`. */
    readonly entry: string,
    /** The option's path, e.g. `iova` or `vendors[1]`. */
    readonly option: string,
    /** What would have been accepted, e.g. `a bigint`. */
    readonly expected: string,
    /** What was given, rendered. */
    readonly got: string,
  ) {
    super(`${entry}: option '${option}' must be ${expected}, got ${got}`);
  }

  static is(err: unknown): err is FarmOptionError {
    return err instanceof FarmOptionError;
  }
}

/**
 * An awaited call in a farm built with `autoRun: false` that nobody steps: it would wait forever,
 * so it rejects instead.
 */
export class FarmStalledError extends Error {
  override readonly name = 'FarmStalledError';

  constructor(readonly call: string) {
    super(
      `${call} is awaited, but the farm was created with autoRun: false and nothing steps it: ` +
        'call farm.step() or await farm.settle() while awaiting it, or set autoRun: true',
    );
  }
}
