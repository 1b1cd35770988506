import type { AddressSpace } from '../mem/address-space.ts';

const BLOCK = 64 * 1024;

/**
 * User memory a typed call borrows: the structs and arrays a C program would have on its
 * stack. Blocks are mmapped once per process and reused (an mmap per call would dominate the
 * cost of a cheap ioctl); a request larger than a block gets its own mapping.
 */
class ScratchPool {
  readonly free: bigint[] = [];
  constructor(readonly mm: AddressSpace) {}
}

const pools = new WeakMap<AddressSpace, ScratchPool>();

export class Scratch {
  readonly #pool: ScratchPool;
  #block: bigint | undefined;
  #used = 0;
  readonly #big: Array<[bigint, number]> = [];

  constructor(private readonly mm: AddressSpace) {
    let pool = pools.get(mm);
    if (!pool) {
      pool = new ScratchPool(mm);
      pools.set(mm, pool);
    }
    this.#pool = pool;
  }

  /** Copies `bytes` into user memory and returns its VA (8-byte aligned, as C structs are). */
  place(bytes: Uint8Array): bigint {
    const va = this.#reserve(Math.max(bytes.length, 1));
    if (bytes.length > 0) this.mm.write(va, bytes);
    return va;
  }

  /**
   * `bytes` at the start of `size` bytes of zeroed user memory (a C caller's larger, zeroed
   * struct). A large tail is a fresh mapping left untouched, so it costs no memory and the
   * kernel's zero check of it costs nothing either.
   */
  placeZeroExtended(bytes: Uint8Array, size: number): bigint {
    if (size <= bytes.length) return this.place(bytes);
    if (size <= BLOCK / 2) {
      const padded = new Uint8Array(size);
      padded.set(bytes);
      return this.place(padded);
    }
    const va = this.mm.mmap(size);
    this.#big.push([va, size]);
    this.mm.write(va, bytes);
    return va;
  }

  /** Zeroed user memory of `length` bytes. */
  alloc(length: number): bigint {
    return this.place(new Uint8Array(length));
  }

  read(va: bigint, length: number): Uint8Array {
    return this.mm.read(va, length);
  }

  release(): void {
    if (this.#block !== undefined) this.#pool.free.push(this.#block);
    this.#block = undefined;
    for (const [va, length] of this.#big) this.mm.munmap(va, length);
    this.#big.length = 0;
  }

  #reserve(length: number): bigint {
    if (length > BLOCK / 2) {
      const va = this.mm.mmap(length);
      this.#big.push([va, length]);
      return va;
    }
    const size = (length + 7) & ~7;
    if (this.#block === undefined || this.#used + size > BLOCK) {
      if (this.#block !== undefined) this.#big.push([this.#block, BLOCK]);
      this.#block = this.#pool.free.pop() ?? this.mm.mmap(BLOCK);
      this.#used = 0;
    }
    const va = this.#block + BigInt(this.#used);
    this.#used += size;
    return va;
  }
}
