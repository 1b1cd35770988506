import type { PagingDomain } from '../../vendors/driver.ts';
import { PAGE_SIZE_N } from '../mem/page.ts';
import { NEVER_FAILS } from '../runtime/fail-nth.ts';
import { fail } from './errno.ts';
import { hex, type IoPagetable, smallestPage, ULONG_MAX } from './io-pagetable.ts';
import { IoptArea } from './iopt-area.ts';
import { allocIova } from './iova-alloc.ts';
import type { IoptPages } from './pages.ts';

/** One piece of memory to map: bytes [startByte, startByte+length) of a pages object. */
export interface PagesElm {
  readonly pages: IoptPages;
  readonly startByte: bigint;
  readonly length: bigint;
}

/** The address `iopt_alloc_iova` aligns against for an element (the user VA, or the file's sub-page offset). */
export function allocHint(elm: PagesElm): bigint {
  const byte = elm.pages.source.base + elm.startByte;
  return elm.pages.source.kind === 'user' ? byte : byte % PAGE_SIZE_N;
}

/**
 * `iopt_map_pages`: places `elms` back to back at `fixedIova`, or at an allocated IOVA, and fills
 * every domain (pinning if there is one). All or nothing.
 */
export async function ioptMapPages(
  iopt: IoPagetable,
  elms: readonly PagesElm[],
  prot: number,
  fixedIova: bigint | undefined,
  /** Broken twin: leave the inserted areas behind on failure. */
  skipRollback = false,
): Promise<bigint> {
  let length = 0n;
  for (const e of elms) length += e.length;
  if (length > ULONG_MAX) fail('EOVERFLOW', 'total length overflows');
  if (length === 0n || length & (iopt.iovaAlignment - 1n)) {
    fail('EINVAL', `length ${hex(length)} not aligned to ${iopt.iovaAlignment}`);
  }
  let iova: bigint;
  if (fixedIova === undefined) iova = allocIova(iopt, allocHint(elms[0]!), length);
  else {
    iova = fixedIova;
    iopt.checkIova(iova, length);
  }
  const areas: IoptArea[] = [];
  let at = iova;
  for (const e of elms) {
    if (prot & 2 && !e.pages.writable) fail('EPERM', 'writable mapping of read-only pages');
    iopt.failNth.point('alloc', 'iopt_area');
    const area = new IoptArea(e.pages, e.startByte, at, e.length, prot, e.pages.source.kind === 'file');
    if (area.pageOffset & (iopt.iovaAlignment - 1n)) {
      fail('EINVAL', `page offset ${area.pageOffset} not aligned to ${iopt.iovaAlignment}`);
    }
    areas.push(area);
    at += e.length;
  }
  for (const area of areas) area.node = iopt.areas.insert(area.iova, area.last, area);
  try {
    await fillDomains(iopt, areas);
  } catch (err) {
    if (!skipRollback) for (const area of areas) iopt.areas.remove(area.node);
    throw err;
  }
  for (const area of areas) area.pages.areaUsers++;
  return iova;
}

/** Pins `areas` and maps them into every domain; undoes everything on failure. */
async function fillDomains(iopt: IoPagetable, areas: readonly IoptArea[]): Promise<void> {
  if (iopt.domains.length === 0) return;
  const done: Array<[IoptArea, PagingDomain]> = [];
  const pinned: IoptArea[] = [];
  try {
    for (const area of areas) {
      area.pages.pin(area.firstIndex, area.lastIndex);
      area.domainPinned = true;
      pinned.push(area);
      for (const d of iopt.domains) {
        await mapArea(d, area, iopt.disableLargePages, iopt.failNth);
        done.push([area, d]);
        await d.iotlbSyncMap?.();
      }
    }
  } catch (err) {
    for (const [area, d] of done.reverse()) await d.unmap(area.iova, area.length);
    for (const area of pinned) {
      area.pages.unpin(area.firstIndex, area.lastIndex);
      area.domainPinned = false;
    }
    throw err;
  }
}

/**
 * Maps an area's pinned pages into a domain. With large pages disabled (IOMMU_OPTION_HUGE_PAGES=0,
 * VFIO type1) every call is at most one page (`batch_iommu_map_small`), so no IOPTE can span a
 * later iopt_cut_iova.
 */
export async function mapArea(
  domain: PagingDomain,
  area: IoptArea,
  small = false,
  failNth = NEVER_FAILS,
): Promise<void> {
  // Runs are in IOVA order from the area's start: [area.iova, mappedEnd) is what this call mapped.
  let mappedEnd = area.iova;
  try {
    for (const [iova, pa, size] of area.physRuns()) {
      if (!small) {
        failNth.point('driver', 'map_pages');
        domain.map(iova, pa, size, area.prot);
        mappedEnd = iova + size;
        continue;
      }
      for (let done = 0n; done < size; ) {
        let n = PAGE_SIZE_N - ((iova + done) % PAGE_SIZE_N);
        if (size - done < n) n = size - done;
        failNth.point('driver', 'map_pages');
        domain.map(iova + done, pa + done, n, area.prot);
        done += n;
        mappedEnd = iova + done;
      }
    }
  } catch (err) {
    // iopt_area_unfill_partial_domain: the runs already mapped leave the domain with the error.
    if (mappedEnd > area.iova) await domain.unmap(area.iova, mappedEnd - area.iova);
    throw err;
  }
}

/**
 * `iopt_unmap_iova_range`: removes every area inside [start, last], asking in-kernel accesses
 * to let go first. An area that sticks out gives ENOENT, keeping what was already removed;
 * nothing removed at all is ENOENT too. Returns the bytes unmapped.
 */
export async function ioptUnmapRange(iopt: IoPagetable, start: bigint, last: bigint): Promise<bigint> {
  let unmapped = 0n;
  for (;;) {
    const node = iopt.areas.firstIntersecting(start, last);
    if (!node) break;
    const area = node.value;
    if (area.removing) fail('EBUSY', `area at ${hex(area.iova)} is being removed`);
    if (area.iova < start || area.last > last) {
      fail('ENOENT', `area [${hex(area.iova)}, ${hex(area.last)}] is not inside the range`);
    }
    if (area.numLocks > 0) fail('EBUSY', `area at ${hex(area.iova)} backs a HW queue`);
    if (area.numAccesses > 0) {
      if (area.preventAccess) fail('EBUSY', `an access keeps area ${hex(area.iova)} pinned`);
      area.preventAccess = true;
      for (const access of [...iopt.accesses]) access.notifyUnmap(area.iova, area.length);
      continue;
    }
    await removeArea(iopt, area);
    unmapped += area.length;
  }
  if (unmapped === 0n) fail('ENOENT', `nothing mapped in [${hex(start)}, ${hex(last)}]`);
  return unmapped;
}

/**
 * Unfills the domains (the driver does not return until IOTLBs and ATCs dropped the range),
 * and only then releases the pages: a page is never reused while a device can still reach it.
 */
async function removeArea(iopt: IoPagetable, area: IoptArea): Promise<void> {
  area.removing = true;
  for (const d of iopt.domains) await d.unmap(area.iova, area.length);
  iopt.areas.remove(area.node);
  if (area.domainPinned) {
    area.pages.unpin(area.firstIndex, area.lastIndex);
    area.domainPinned = false;
  }
  area.pages.areaUsers--;
}

/** `iopt_get_pages`: the pieces behind [iova, iova+length) for IOAS_COPY. */
export function ioptGetPages(iopt: IoPagetable, iova: bigint, length: bigint): PagesElm[] {
  if (length === 0n) fail('EINVAL', 'zero length');
  const last = iova + length - 1n;
  if (last > ULONG_MAX) fail('EOVERFLOW', 'iova + length overflows');
  const areas = iopt.contiguousAreas(iova, last);
  return areas.map((area) => {
    if (area.removing) fail('ENOENT', 'area is being removed');
    const from = area.iova > iova ? area.iova : iova;
    const to = area.last < last ? area.last : last;
    return { pages: area.pages, startByte: area.byteOf(from), length: to - from + 1n };
  });
}

/**
 * `iopt_table_add_domain`: checks the domain's page size and aperture against the IOAS, pins
 * (for the first domain) and maps every area into it. All or nothing.
 */
export async function ioptAddDomain(iopt: IoPagetable, domain: PagingDomain): Promise<void> {
  const pgsize = smallestPage(domain.pgsizeBitmap);
  const align = pgsize > iopt.iovaAlignment ? pgsize : iopt.iovaAlignment;
  if (align > PAGE_SIZE_N) fail('EINVAL', `domain page size ${pgsize} exceeds PAGE_SIZE`);
  if (align !== iopt.iovaAlignment) iopt.checkAlignment(align);
  const { start, end } = domain.aperture;
  try {
    if (start !== 0n) iopt.reserve(0n, start - 1n, domain);
    if (end !== ULONG_MAX) iopt.reserve(end + 1n, ULONG_MAX, domain);
    await fillOneDomain(iopt, domain);
  } catch (err) {
    iopt.unreserve(domain);
    throw err;
  }
  iopt.iovaAlignment = align;
  iopt.domains.push(domain);
}

async function fillOneDomain(iopt: IoPagetable, domain: PagingDomain): Promise<void> {
  const first = iopt.domains.length === 0;
  const pinned: IoptArea[] = [];
  const mapped: IoptArea[] = [];
  try {
    for (const node of iopt.areas.all()) {
      const area = node.value;
      if (first) {
        area.pages.pin(area.firstIndex, area.lastIndex);
        area.domainPinned = true;
        pinned.push(area);
      }
      await mapArea(domain, area, iopt.disableLargePages, iopt.failNth);
      mapped.push(area);
      await domain.iotlbSyncMap?.();
    }
  } catch (err) {
    for (const area of mapped.reverse()) await domain.unmap(area.iova, area.length);
    for (const area of pinned) {
      area.pages.unpin(area.firstIndex, area.lastIndex);
      area.domainPinned = false;
    }
    throw err;
  }
}

/** `iopt_table_remove_domain`: unmaps everything from it; the last domain out unpins. */
export async function ioptRemoveDomain(iopt: IoPagetable, domain: PagingDomain): Promise<void> {
  const index = iopt.domains.indexOf(domain);
  if (index < 0) throw new Error('iopt: removing a domain that was never added');
  for (const node of [...iopt.areas.all()]) await domain.unmap(node.value.iova, node.value.length);
  iopt.domains.splice(index, 1);
  if (iopt.domains.length === 0) {
    for (const node of iopt.areas.all()) {
      const area = node.value;
      if (area.domainPinned) {
        area.pages.unpin(area.firstIndex, area.lastIndex);
        area.domainPinned = false;
      }
    }
  }
  iopt.unreserve(domain);
  iopt.recalcAlignment();
}
