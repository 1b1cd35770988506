import type { DirtyOps } from '../driver.ts';
import { IOMMU_READ, IOMMU_WRITE } from '../driver.ts';
import { AmdPagingDomain } from './domain.ts';
import type { AmdViDriver } from './driver.ts';
import { V1PageTable } from './v1-table.ts';

/** AMD_IOMMU_PGSIZES: every power of two from 4 KiB that `levels` reach, except 512 GiB. */
export function v1PgsizeBitmap(levels: number): bigint {
  let bitmap = 0n;
  for (let bit = 12; bit < 12 + 9 * levels && bit < 64; bit++) if (bit !== 39) bitmap |= 1n << BigInt(bit);
  return bitmap;
}

export function v1Aperture(levels: number) {
  const bits = 12 + 9 * levels;
  return { start: 0n, end: bits >= 64 ? (1n << 64n) - 1n : (1n << BigInt(bits)) - 1n };
}

/** A domain with a host (v1) table: the DTE points at it; DomainID tags its IOTLB entries. */
export class AmdV1Domain extends AmdPagingDomain {
  readonly pgtable = 'v1' as const;
  readonly table: V1PageTable;
  dirtyTracking = false;
  override readonly dirty: DirtyOps | undefined;

  constructor(driver: AmdViDriver, id: number, levels: number, nestParent: boolean, dirty: boolean) {
    super(driver, id, v1PgsizeBitmap(levels), v1Aperture(levels), nestParent);
    this.table = new V1PageTable(driver.phys, levels);
    this.dirty = dirty ? this.#dirtyOps() : undefined;
  }

  get root(): bigint {
    return this.table.root;
  }

  get levels(): number {
    return this.table.levels;
  }

  iovaToPhys(iova: bigint): bigint | undefined {
    return this.table.iovaToPhys(iova);
  }

  protected mapPage(iova: bigint, pa: bigint, log2Size: number, prot: number): bigint[] {
    return this.table.mapPage(iova, pa, log2Size, (prot & IOMMU_READ) !== 0, (prot & IOMMU_WRITE) !== 0);
  }

  protected clear(iova: bigint, size: bigint): void {
    this.table.unmap(iova, size);
  }

  protected release(tables: readonly bigint[]): void {
    this.table.release(tables);
  }

  protected destroyTable(): void {
    this.table.destroy();
  }

  #dirtyOps(): DirtyOps {
    return {
      setTracking: (enable) => this.driver.setDirtyTracking(this, enable),
      readAndClear: async (iova, length, noClear, record) => {
        // Cleared bits only count again once the IOTLB forgot it had set them (iotlb_sync).
        if (this.table.readAndClearDirty(iova, length, noClear, record))
          await this.driver.flushPages(this, iova, length);
      },
    };
  }
}
