import { fail } from '../../actors/iommufd/errno.ts';
import type { DirtyOps, PagingDomain } from '../driver.ts';
import { IOMMU_READ, IOMMU_WRITE } from '../driver.ts';
import type { DeviceInfo } from './device-info.ts';
import { VtdDomain } from './domain-base.ts';
import type { VtdDriver } from './driver.ts';
import { PGTT_FL_ONLY, PGTT_SL_ONLY } from './entries.ts';
import { IoPageTable } from './page-table.ts';
import type { PasidConfigSpec } from './pasid-setup.ts';

/** `struct iommu_iotlb_gather`: the range an unmap cleared, and table pages to free after the flush. */
interface Gather {
  start: bigint;
  end: bigint;
  pgsize: bigint;
  freelist: bigint[];
}

const newGather = (): Gather => ({ start: -1n, end: 0n, pgsize: 0n, freelist: [] });

/**
 * A VT-d paging domain (`struct dmar_domain` with a pgd): first-stage x86 tables by default,
 * second-stage tables for nest parents and dirty tracking. `unmap` clears the PTEs, flushes
 * through the cache tags (IOTLB + device TLBs, one submission ending in a wait), and only
 * then frees table pages and resolves.
 */
export class VtdPagingDomain extends VtdDomain implements PagingDomain {
  readonly kind = 'paging' as const;
  readonly pt: IoPageTable;
  readonly pgsizeBitmap: bigint;
  readonly aperture: { readonly start: bigint; readonly end: bigint };
  readonly dirty: DirtyOps | undefined;
  /** Nested domains stacked on this parent. */
  readonly s1Domains = new Set<VtdDomain>();
  dirtyTracking = false;

  constructor(
    driver: VtdDriver,
    readonly useFirstLevel: boolean,
    readonly nestParent: boolean,
    withDirty: boolean,
    superpage: number,
  ) {
    super(driver);
    const gaw = 48n;
    this.pt = new IoPageTable(driver.phys, useFirstLevel ? 'fs' : 'ss', 4, 1 + superpage);
    this.pgsizeBitmap = (1n << 12n) | (superpage >= 1 ? 1n << 21n : 0n) | (superpage >= 2 ? 1n << 30n : 0n);
    // First stage needs canonical input addresses: bit N-1 is skipped.
    this.aperture = { start: 0n, end: (1n << (useFirstLevel ? gaw - 1n : gaw)) - 1n };
    this.dirty = withDirty ? this.#dirtyOps() : undefined;
  }

  get usePiotlb(): boolean {
    return this.useFirstLevel;
  }

  pasidSpec(did: number): PasidConfigSpec {
    if (this.useFirstLevel) return { pgtt: PGTT_FL_ONLY, did, fsptptr: this.pt.root };
    return { pgtt: PGTT_SL_ONLY, did, ssptptr: this.pt.root, ssade: this.dirtyTracking };
  }

  checkCompatible(info: DeviceInfo): void {
    this.driver.checkDomainCompatible(this, info);
  }

  map(iova: bigint, pa: bigint, size: bigint, prot: number): void {
    if ((prot & (IOMMU_READ | IOMMU_WRITE)) === 0) fail('EINVAL', 'mapping with neither read nor write');
    if (iova + size - 1n > this.aperture.end) fail('EFAULT', 'mapping beyond the domain address width');
    let done = 0n;
    try {
      while (done < size) {
        const { pgsize, count } = iommuPgsize(this.pgsizeBitmap, iova + done, pa + done, size - done);
        this.pt.map(iova + done, pa + done, pgsize * count, prot);
        done += pgsize * count;
      }
    } catch (err) {
      // iommu_map: what the earlier chunks mapped goes before the error does.
      this.pt.unmapUnused(iova, done);
      throw err;
    }
  }

  async unmap(iova: bigint, size: bigint): Promise<void> {
    const gather = newGather();
    let unmapped = 0n;
    while (unmapped < size) {
      const at = iova + unmapped;
      const { pgsize, count } = iommuPgsize(this.pgsizeBitmap, at, at, size - unmapped);
      let chunk = pgsize * count;
      // intel_iommu_unmap: a large page the range starts in is unmapped whole.
      const stop = this.pt.stopSize(at);
      if (chunk < stop) chunk = stop;
      const r = this.pt.unmap(at, chunk);
      if (gather.pgsize !== 0n && (gather.pgsize !== chunk || disjoint(gather, at, chunk)))
        await this.#sync(gather);
      gather.pgsize = chunk;
      if (gather.start < 0n || at < gather.start) gather.start = at;
      if (at + chunk - 1n > gather.end) gather.end = at + chunk - 1n;
      gather.freelist.push(...r.freed);
      unmapped += chunk;
    }
    await this.#sync(gather);
  }

  iovaToPhys(iova: bigint): bigint | undefined {
    return this.pt.iovaToPhys(iova);
  }

  free(): void {
    this.pt.free();
  }

  /** The full-range flush an S2 change or a dirty-bit clear needs. */
  flushRange(start: bigint, end: bigint, ih: boolean): Promise<unknown> {
    const drv = this.driver;
    return drv.flusher.submit(this.tags.rangeDescs(drv.flusher, drv.hw.cap, start, end, ih, this.usePiotlb));
  }

  /** `intel_iommu_tlb_sync`: flush the gathered range (IH when no table page was freed), then free. */
  async #sync(g: Gather): Promise<void> {
    if (g.start >= 0n && g.start < g.end) await this.flushRange(g.start, g.end, g.freelist.length === 0);
    for (const pa of g.freelist) this.driver.phys.put(pa >> 12n);
    Object.assign(g, newGather());
  }

  #dirtyOps(): DirtyOps {
    return {
      setTracking: async (enable) => {
        if (this.dirtyTracking === enable) return;
        const ops = this.driver.pasidOps;
        for (const { info, pasid } of this.attachments.values())
          await ops.setDirtyTracking(info, pasid, enable);
        for (const s1 of this.s1Domains) {
          for (const { info, pasid } of s1.attachments.values())
            await ops.setDirtyTracking(info, pasid, enable);
        }
        this.dirtyTracking = enable;
      },
      // Linux fails a bitmap read while tracking is off, but not iommufd's clearing pass before
      // enabling; the contract cannot tell the two apart, so neither fails here.
      readAndClear: async (iova, length, noClear, record) => {
        const g = newGather();
        this.pt.readAndClearDirty(iova, length, noClear, (at, size) => {
          record(at, size);
          if (g.start < 0n || at < g.start) g.start = at;
          if (at + size - 1n > g.end) g.end = at + size - 1n;
        });
        // iommufd syncs the recorded range so the next write walks and sets D again.
        await this.#sync(g);
      },
    };
  }
}

function disjoint(g: Gather, iova: bigint, size: bigint): boolean {
  const end = iova + size - 1n;
  return g.end !== 0n && (end + 1n < g.start || iova > g.end + 1n);
}

/** `iommu_pgsize`: the largest supported page for the alignment, and how many before a larger one fits. */
export function iommuPgsize(
  bitmap: bigint,
  iova: bigint,
  paddr: bigint,
  size: bigint,
): { pgsize: bigint; count: bigint } {
  const merge = iova | paddr;
  let pgsizes = bitmap & ((1n << (fls(size) + 1n)) - 1n);
  if (merge) pgsizes &= (1n << (ffs(merge) + 1n)) - 1n;
  if (!pgsizes)
    throw new Error(`iommu_pgsize: no page size for 0x${merge.toString(16)}/0x${size.toString(16)}`);
  const idx = fls(pgsizes);
  const pgsize = 1n << idx;
  let limit = size;
  const bigger = bitmap & ~((1n << (idx + 1n)) - 1n);
  if (bigger) {
    const next = 1n << ffs(bigger);
    if (((iova ^ paddr) & (next - 1n)) === 0n) {
      const offset = next - (merge & (next - 1n));
      if (offset + next <= size) limit = offset;
    }
  }
  return { pgsize, count: limit >> idx };
}

function fls(v: bigint): bigint {
  let i = -1n;
  for (let x = v; x > 0n; x >>= 1n) i++;
  return i;
}

function ffs(v: bigint): bigint {
  let i = 0n;
  while (((v >> i) & 1n) === 0n) i++;
  return i;
}
