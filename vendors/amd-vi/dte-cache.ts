import type { DteState } from './translate.ts';

/** The IOMMU's DTE cache: one slot per DeviceID, an array index on the DMA path. */
export class DteCache {
  readonly #slots: Array<DteState | undefined> = new Array(0x10000);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(devid: number): DteState | undefined {
    return this.#slots[devid];
  }

  set(devid: number, st: DteState): void {
    if (this.#slots[devid] === undefined) this.#size++;
    this.#slots[devid] = st;
  }

  /** INVALIDATE_DEVTAB_ENTRY. */
  delete(devid: number): void {
    if (this.#slots[devid] === undefined) return;
    this.#slots[devid] = undefined;
    this.#size--;
  }

  clear(): void {
    this.#slots.fill(undefined);
    this.#size = 0;
  }
}
