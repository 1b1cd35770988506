import { fail } from './errno.ts';
import { hex, type IoPagetable } from './io-pagetable.ts';
import { IoptArea } from './iopt-area.ts';

/**
 * `iopt_cut_iova`: for each IOVA, splits the area containing it so that an area ends exactly
 * there. VFIO type1 (v1) lets userspace unmap part of a mapping; cutting at both ends first turns
 * that into a plain unmap of whole areas. A cut already on an area boundary, or outside every
 * area, does nothing. Cuts made before a failing one stay, as in the kernel.
 */
export function ioptCutIova(iopt: IoPagetable, iovas: readonly bigint[]): void {
  for (const iova of iovas) {
    const node = iopt.areas.lookup(iova);
    if (node) ioptAreaSplit(iopt, node.value, iova);
  }
}

/**
 * `iopt_area_split`: replaces `area` by [area.iova, iova] and [iova+1, area.last] over the same
 * pages. The domains keep their IOPTEs, which is only sound when none can span the cut: hence
 * the refusal while large pages are allowed and a domain is filled. Accesses are refused too,
 * since their pins name the old area.
 */
function ioptAreaSplit(iopt: IoPagetable, area: IoptArea, iova: bigint): void {
  if (iova === area.iova || iova === area.last) return;
  if (area.removing || area.preventAccess) fail('EBUSY', `area at ${hex(area.iova)} is being unmapped`);
  const newStart = iova + 1n;
  const mask = iopt.iovaAlignment - 1n;
  if (newStart & mask || area.byteOf(newStart) & mask) {
    fail('EINVAL', `cut at ${hex(newStart)} not aligned to ${iopt.iovaAlignment}`);
  }
  if (area.numAccesses > 0) fail('EINVAL', `area at ${hex(area.iova)} is pinned by an access`);
  if (area.domainPinned && !iopt.disableLargePages) {
    fail('EINVAL', `area at ${hex(area.iova)} may be mapped with large pages`);
  }
  iopt.failNth.point('alloc', 'iopt_area_split');
  const { pages, prot, fromFile } = area;
  const lhs = new IoptArea(pages, area.startByte, area.iova, newStart - area.iova, prot, fromFile);
  const rhs = new IoptArea(pages, area.byteOf(newStart), newStart, area.last - newStart + 1n, prot, fromFile);
  if (area.domainPinned) {
    // The domain pin covered the area's pages once; a page now in both halves needs two.
    if (lhs.lastIndex === rhs.firstIndex) pages.pin(rhs.firstIndex, rhs.firstIndex);
    lhs.domainPinned = true;
    rhs.domainPinned = true;
  }
  iopt.areas.remove(area.node);
  lhs.node = iopt.areas.insert(lhs.iova, lhs.last, lhs);
  rhs.node = iopt.areas.insert(rhs.iova, rhs.last, rhs);
  pages.areaUsers++;
}
