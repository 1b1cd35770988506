import { expect } from 'vitest';
import { type Errno, IommufdError } from '../../../actors/iommufd/errno.ts';

/** Asserts `fn` throws an IommufdError with this errno. */
export function expectErrno(fn: () => unknown, errno: Errno): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(IommufdError.is(caught), `expected ${errno}, got ${String(caught)}`).toBe(true);
  expect((caught as IommufdError).errno).toBe(errno);
}

/** Byte equality reporting the first difference; vitest's deep toEqual is far too slow on big typed arrays. */
export function expectBytes(got: Uint8Array | undefined, want: Uint8Array): void {
  expect(got, 'no bytes').toBeDefined();
  if (Buffer.from(got!.buffer, got!.byteOffset, got!.byteLength).equals(want)) return;
  const i = got!.findIndex((b, k) => b !== want[k]);
  expect({ length: got!.length, at: i, byte: got![i] }).toEqual({
    length: want.length,
    at: i,
    byte: want[i],
  });
}
