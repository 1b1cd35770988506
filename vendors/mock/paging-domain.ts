import { fail } from '../../actors/iommufd/errno.ts';
import { MOCK_FLAGS_DEVICE_NO_DIRTY } from '../../actors/iommufd/uapi-selftest.ts';
import type { DeviceRef, DirtyOps, Domain, PagingDomain } from '../driver.ts';
import { IOMMU_READ, IOMMU_WRITE } from '../driver.ts';
import type { MockDriver } from './driver.ts';
import type { MockHardware, MockTranslating } from './hardware.ts';

interface Pte {
  pa: bigint;
  prot: number;
  dirty: boolean;
}

/**
 * A mock paging domain: one table per supported page size, keyed by IOVA frame. `map` uses the
 * largest size that alignment allows, so a huge-page domain reports a dirty 1 MiB IOPTE as the
 * whole megabyte, as real page tables do.
 */
export class MockPagingDomain implements PagingDomain, MockTranslating {
  readonly kind = 'paging' as const;
  /** Page sizes, largest first. */
  readonly #sizes: bigint[];
  readonly #tables = new Map<bigint, Map<bigint, Pte>>();
  dirtyTracking = false;
  readonly dirty: DirtyOps | undefined;

  constructor(
    readonly driver: MockDriver,
    readonly hw: MockHardware,
    readonly pgsizeBitmap: bigint,
    readonly aperture: { readonly start: bigint; readonly end: bigint },
    readonly nestParent: boolean,
    withDirtyOps: boolean,
  ) {
    this.#sizes = [];
    for (let bit = 63n; bit >= 0n; bit--) if (pgsizeBitmap & (1n << bit)) this.#sizes.push(1n << bit);
    for (const s of this.#sizes) this.#tables.set(s, new Map());
    this.dirty = withDirtyOps ? this.#dirtyOps() : undefined;
  }

  async attachDev(dev: DeviceRef, pasid: number | undefined, _old: Domain | undefined): Promise<void> {
    if (this.dirty && dev.flags & MOCK_FLAGS_DEVICE_NO_DIRTY)
      fail('EINVAL', 'device cannot track dirty pages');
    this.driver.checkPasidQuirk(dev, pasid, false);
    this.hw.setDomain(dev.rid, pasid, this);
  }

  free(): void {
    for (const t of this.#tables.values()) t.clear();
  }

  map(iova: bigint, pa: bigint, size: bigint, prot: number): void {
    // The kernel's mock is a generic-pt table now: map_range refuses a mapping without access.
    if (!(prot & (IOMMU_READ | IOMMU_WRITE))) fail('EINVAL', 'mapping with neither read nor write');
    const smallest = this.#sizes[this.#sizes.length - 1]!;
    if ((iova | pa | size) & (smallest - 1n)) throw new Error(`mock map misaligned: ${iova} ${pa} ${size}`);
    const placed: Array<[Map<bigint, Pte>, bigint]> = [];
    try {
      let done = 0n;
      while (done < size) {
        const at = iova + done;
        const pgsize = this.#sizes.find(
          (s) => (at & (s - 1n)) === 0n && ((pa + done) & (s - 1n)) === 0n && size - done >= s,
        )!;
        this.driver.failNth.point('table', 'mock.xa_store');
        const table = this.#tables.get(pgsize)!;
        const frame = at / pgsize;
        if (this.#lookupPte(at)) throw new Error(`mock map over a live IOPTE at 0x${at.toString(16)}`);
        table.set(frame, { pa: pa + done, prot, dirty: false });
        placed.push([table, frame]);
        done += pgsize;
      }
    } catch (err) {
      // mock_domain_map_pages: a failed store unmaps what this call stored.
      for (const [table, frame] of placed) table.delete(frame);
      throw err;
    }
  }

  async unmap(iova: bigint, size: bigint): Promise<void> {
    // Broken twin: the IOPTEs stay, the mock's stand-in for a skipped IOTLB invalidation.
    if (this.driver.faults?.skipPteClear) return;
    const end = iova + size;
    let at = iova;
    while (at < end) {
      const found = this.#lookupPte(at);
      if (!found) {
        at += this.#sizes[this.#sizes.length - 1]!;
        continue;
      }
      this.#tables.get(found.size)!.delete(at / found.size);
      at = (at / found.size + 1n) * found.size;
    }
  }

  iovaToPhys(iova: bigint): bigint | undefined {
    const found = this.#lookupPte(iova);
    return found ? found.pte.pa + (iova % found.size) : undefined;
  }

  lookup(iova: bigint, write: boolean) {
    if (iova < this.aperture.start || iova > this.aperture.end) return 'aperture' as const;
    const found = this.#lookupPte(iova);
    if (!found) return 'not-present' as const;
    const need = write ? IOMMU_WRITE : IOMMU_READ;
    if (!(found.pte.prot & need)) return 'permission' as const;
    if (write && this.dirtyTracking) found.pte.dirty = true;
    return { pa: found.pte.pa + (iova % found.size), pageSize: found.size };
  }

  /** The selftest's IOMMU_TEST_OP_DIRTY: marks the IOPTE covering `iova` dirty; false if unmapped. */
  markDirty(iova: bigint): boolean {
    const found = this.#lookupPte(iova);
    if (!found) return false;
    found.pte.dirty = true;
    return true;
  }

  #lookupPte(iova: bigint): { pte: Pte; size: bigint } | undefined {
    for (const size of this.#sizes) {
      const pte = this.#tables.get(size)!.get(iova / size);
      if (pte) return { pte, size };
    }
    return undefined;
  }

  #dirtyOps(): DirtyOps {
    return {
      setTracking: async (enable) => {
        this.dirtyTracking = enable;
      },
      readAndClear: async (iova, length, noClear, record) => {
        const end = iova + length;
        let at = iova;
        const step = this.#sizes[this.#sizes.length - 1]!;
        while (at < end) {
          const found = this.#lookupPte(at);
          if (!found) {
            at += step;
            continue;
          }
          const base = (at / found.size) * found.size;
          if (found.pte.dirty) {
            record(base, found.size);
            if (!noClear) found.pte.dirty = false;
          }
          at = base + found.size;
        }
      },
    };
  }
}
