import { FarmOptionError } from '../runtime/farm-errors.ts';
import { describeValue } from './describe.ts';

const U64_LIMIT = 1n << 64n;
/** A transaction longer than this is a caller bug (and would allocate its size up front). */
export const MAX_DMA_LENGTH = 1 << 30;

/**
 * `device.dma()` runs once per simulated transaction, so its request is checked by hand with
 * plain comparisons: no schema walk, no allocation unless it fails (bench/dma-validate.ts).
 * Returns the error rather than throwing, so `dma` can reject its promise with it.
 */
export function checkDmaRequest(
  req: unknown,
  pasidBits: number,
  device: string,
): FarmOptionError | undefined {
  // The entry name is built only on the error path (`bad`): a string per call would dominate.
  const entry = device;
  if (typeof req !== 'object' || req === null) return bad(entry, 'request', 'an object', req);
  const r = req as Record<string, unknown>;
  if (r.op !== 'read' && r.op !== 'write') return bad(entry, 'op', "'read' or 'write'", r.op);
  const iova = r.iova;
  if (typeof iova !== 'bigint') return bad(entry, 'iova', 'a bigint', iova);
  if (iova < 0n || iova >= U64_LIMIT) return bad(entry, 'iova', 'a 64-bit IOVA (0 ≤ iova < 2^64)', iova);
  const length = r.length;
  if (typeof length !== 'number' || !Number.isInteger(length) || length <= 0 || length > MAX_DMA_LENGTH) {
    return bad(entry, 'length', `an integer byte count in 1..${MAX_DMA_LENGTH}`, length);
  }
  const pasid = r.pasid;
  if (pasid !== undefined) {
    if (typeof pasid !== 'number' || !Number.isInteger(pasid) || pasid < 0 || pasid >= 2 ** pasidBits) {
      const range =
        pasidBits === 0
          ? 'absent (or 0): the device has no PASID capability'
          : `an integer in 0..${2 ** pasidBits - 1} (PASID width ${pasidBits})`;
      return bad(entry, 'pasid', range, pasid);
    }
  }
  const data = r.data;
  if (data !== undefined) {
    if (r.op !== 'write') return bad(entry, 'data', "absent for op 'read'", data);
    if (!(data instanceof Uint8Array) || data.length !== length) {
      return bad(entry, 'data', `a Uint8Array of length ${length}`, data);
    }
  }
  for (const key in r) {
    if (key !== 'op' && key !== 'iova' && key !== 'length' && key !== 'pasid' && key !== 'data') {
      return bad(entry, key, 'not given: dma takes op, iova, length, pasid and data', r[key]);
    }
  }
  return undefined;
}

function bad(device: string, option: string, expected: string, got: unknown): FarmOptionError {
  return new FarmOptionError(`${device}.dma`, option, expected, describeValue(got));
}
