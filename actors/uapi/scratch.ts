import type { AddressSpace } from '../mem/address-space.ts';

/**
 * User memory for one typed call: the structs and arrays a C program would have on its stack,
 * placed in the process's address space so the kernel reads them exactly as it reads a raw call.
 */
export class Scratch {
  readonly #blocks: Array<[bigint, number]> = [];

  constructor(private readonly mm: AddressSpace) {}

  /** Copies `bytes` into fresh user memory and returns its VA. */
  place(bytes: Uint8Array): bigint {
    const length = Math.max(bytes.length, 1);
    const va = this.mm.mmap(length);
    this.#blocks.push([va, length]);
    if (bytes.length > 0) this.mm.write(va, bytes);
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
    for (const [va, length] of this.#blocks) this.mm.munmap(va, length);
    this.#blocks.length = 0;
  }
}
