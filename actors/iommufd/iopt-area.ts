import { PAGE_SHIFT, PAGE_SIZE_N } from '../mem/page.ts';
import type { IntervalNode } from './interval-tree.ts';
import type { IoptPages } from './pages.ts';

/**
 * `struct iopt_area`: one mapping of an IOAS, [iova, last] onto bytes [startByte, ...] of an
 * iopt_pages. Areas never overlap; several may share one pages object (IOAS_COPY).
 */
export class IoptArea {
  node!: IntervalNode<IoptArea>;
  /** Holds a pin on its page range because the IOAS has at least one domain. */
  domainPinned = false;
  /** Pins held by in-kernel accesses (iommufd_access_pin_pages). */
  numAccesses = 0;
  /** Locks held by HW queues on their backing memory: UNMAP returns EBUSY while set. */
  numLocks = 0;
  /** Set once an UNMAP asked accesses to let go; a second refusal is EBUSY. */
  preventAccess = false;
  /** True while being removed (pages detached, domains being unfilled). */
  removing = false;

  constructor(
    readonly pages: IoptPages,
    readonly startByte: bigint,
    readonly iova: bigint,
    readonly length: bigint,
    /** IOMMU_READ | IOMMU_WRITE. */
    readonly prot: number,
    readonly fromFile: boolean,
  ) {}

  get last(): bigint {
    return this.iova + this.length - 1n;
  }

  /** Sub-page offset of the area's first byte (`area->page_offset`). */
  get pageOffset(): bigint {
    return this.startByte % PAGE_SIZE_N;
  }

  get firstIndex(): number {
    return Number(this.startByte >> BigInt(PAGE_SHIFT));
  }

  get lastIndex(): number {
    return Number((this.startByte + this.length - 1n) >> BigInt(PAGE_SHIFT));
  }

  /** Index into `pages` of the page holding `iova`. */
  indexOf(iova: bigint): number {
    return Number((this.startByte + (iova - this.iova)) >> BigInt(PAGE_SHIFT));
  }

  /** Byte offset into `pages` of `iova`. */
  byteOf(iova: bigint): bigint {
    return this.startByte + (iova - this.iova);
  }

  /**
   * Physically contiguous runs of the pinned pages over [iova, last] of this area, as
   * (iova, pa, size). Pages must be pinned.
   */
  *physRuns(from = this.iova, to = this.last): Generator<[bigint, bigint, bigint]> {
    let iova = from;
    let runIova = 0n;
    let runPa = -1n;
    let runSize = 0n;
    while (iova <= to) {
      const byte = this.byteOf(iova);
      const offset = byte % PAGE_SIZE_N;
      const frame = this.pages.frame(Number(byte >> BigInt(PAGE_SHIFT)));
      if (frame === undefined) throw new Error(`iopt_area: page at iova ${iova.toString(16)} not pinned`);
      const pa = frame * PAGE_SIZE_N + offset;
      const chunkEnd = iova - offset + PAGE_SIZE_N - 1n;
      const size = (chunkEnd < to ? chunkEnd : to) - iova + 1n;
      if (runSize > 0n && runPa + runSize === pa) runSize += size;
      else {
        if (runSize > 0n) yield [runIova, runPa, runSize];
        runIova = iova;
        runPa = pa;
        runSize = size;
      }
      iova += size;
    }
    if (runSize > 0n) yield [runIova, runPa, runSize];
  }
}
