import type { Process } from '../../actors/process.ts';

/** Every process maps its test buffer at the same VA, so a wrong process's page is told apart only by its tags. */
export const BUFFER_VA = 0x4000_0000n;
export const BUFFER_PAGES = 16;
export const BUFFER_BYTES = BUFFER_PAGES * 4096;
/** A page of every process for what the kernel writes back (dirty bitmaps), away from the tagged buffer. */
export const SCRATCH_VA = 0x5000_0000n;

const INITIAL = 0xa5;
const WRITTEN = 0x5a;

/**
 * Maps a process's test buffer (nothing mapped right after it, so an overlong MAP faults when
 * pinned) and fills it with 32-bit tags naming the process and the word's offset: any byte a
 * DMA returns says whose memory it came from.
 */
export function fillBuffer(proc: Process, procIndex: number): bigint {
  const va = proc.mmap(BUFFER_BYTES, { fixed: BUFFER_VA });
  const bytes = new Uint8Array(BUFFER_BYTES);
  const dv = new DataView(bytes.buffer);
  for (let off = 0; off < BUFFER_BYTES; off += 4) {
    dv.setUint32(off, ((INITIAL << 24) | ((procIndex & 0xff) << 16) | ((off >> 2) & 0xffff)) >>> 0, true);
  }
  proc.write(va, bytes);
  proc.mmap(4096, { fixed: SCRATCH_VA });
  return va;
}

/** Data for a DMA write: words marked as written, by process `procIndex`, DMA number `gen`. */
export function writeData(procIndex: number, gen: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const dv = new DataView(bytes.buffer);
  const word = ((WRITTEN << 24) | ((procIndex & 0xff) << 16) | (gen & 0xffff)) >>> 0;
  for (let off = 0; off + 4 <= length; off += 4) dv.setUint32(off, word, true);
  for (let off = length & ~3; off < length; off++) bytes[off] = (word >>> ((off & 3) * 8)) & 0xff;
  return bytes;
}

/**
 * Processes whose untouched buffer words appear in `data` (read at `iova`; translations keep the
 * low bits, so words sit where `iova + off` is 4-aligned).
 */
export function tagOwners(data: Uint8Array, iova: bigint): Set<number> {
  const owners = new Set<number>();
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let off = Number((4n - (iova & 3n)) & 3n); off + 4 <= data.length; off += 4) {
    const w = dv.getUint32(off, true);
    if (w >>> 24 === INITIAL) owners.add((w >>> 16) & 0xff);
  }
  return owners;
}
