import { expect } from 'vitest';
import { type Errno, IommufdError } from '../../../index.ts';

/** The selftest's `ASSERT_EQ(0, ...)`: resolves to the call's outputs, failing with the errno otherwise. */
export async function expectOk<T>(call: Promise<T> | (() => T | Promise<T>)): Promise<T> {
  try {
    return await (typeof call === 'function' ? call() : call);
  } catch (err) {
    if (IommufdError.is(err)) expect.fail(`expected success, got ${err.errno}: ${err.message}`);
    throw err;
  }
}

/** The selftest's `EXPECT_ERRNO(E, ...)`: the call fails with exactly `errno`; returns the error. */
export async function expectErrno(
  errno: Errno,
  call: Promise<unknown> | (() => unknown),
): Promise<IommufdError> {
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (err) {
    if (!IommufdError.is(err)) throw err;
    expect(err.errno, err.message).toBe(errno);
    return err;
  }
  return expect.fail(`expected ${errno}, the call succeeded`);
}
