import { IOMMU_WRITE } from '../driver.ts';
import { AmdPagingDomain } from './domain.ts';
import type { AmdViDriver } from './driver.ts';
import { V2PageTable } from './v2-table.ts';

/** 4 KiB, 2 MiB and 1 GiB (Linux AMD_IOMMU_PGSIZES_V2). */
export const V2_PGSIZES = (1n << 12n) | (1n << 21n) | (1n << 30n);

/**
 * A domain with a guest-format (v2) table, reached through each device's GCR3 table: PASID 0
 * with GIOV for the RID, or any PASID. Its IOTLB entries carry the device's GCR3 DomainID and
 * the PASID (GN=1).
 */
export class AmdV2Domain extends AmdPagingDomain {
  readonly pgtable = 'v2' as const;
  readonly table: V2PageTable;

  constructor(driver: AmdViDriver, id: number, levels: number) {
    super(driver, id, V2_PGSIZES, { start: 0n, end: (1n << BigInt(12 + 9 * levels)) - 1n }, false);
    this.table = new V2PageTable(driver.phys, levels);
  }

  get root(): bigint {
    return this.table.root;
  }

  iovaToPhys(iova: bigint): bigint | undefined {
    return this.table.iovaToPhys(iova);
  }

  protected mapPage(iova: bigint, pa: bigint, log2Size: number, prot: number): bigint[] {
    return this.table.mapPage(iova, pa, log2Size, (prot & IOMMU_WRITE) !== 0);
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
}
