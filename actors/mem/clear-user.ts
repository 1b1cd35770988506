import type { AddressSpace } from './address-space.ts';

const CHUNK = 64 * 1024;
const ZEROS = new Uint8Array(CHUNK);

/**
 * `clear_user`: zeroes [va, va+length) a chunk at a time, so the cost follows the user's own
 * mapping (EFAULT at its first hole) and never a buffer sized by an untrusted length.
 */
export function clearUser(mm: AddressSpace, va: bigint, length: bigint | number): void {
  let left = BigInt(length);
  let at = va;
  while (left > 0n) {
    const n = left < BigInt(CHUNK) ? Number(left) : CHUNK;
    mm.write(at, n === CHUNK ? ZEROS : ZEROS.subarray(0, n));
    at += BigInt(n);
    left -= BigInt(n);
  }
}
