import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { DevData, Gcr3Info } from './dev-data.ts';
import { CLEAR_DTE, DTE_SIZE, type Dte, encodeDte } from './dte.ts';
import { GCR3_ADDR_MASK, GCR3_VALID, gcr3Index } from './v2-pte.ts';

/**
 * `set_dte_entry` / `make_clear_dte`: the DTE a device's state calls for. No domain and no
 * GCR3 table: V=1, TV=1, Mode=0, IR=IW=0 (blocks). A v1 RID domain gives Mode, root, its
 * DomainID and IR/IW; a v2 one GIOV. A GCR3 table adds GV, GLX, its root and the device's own
 * DomainID; the RID stays blocked (IR=IW=0) unless it has a domain.
 */
export function composeDte(
  dd: Pick<DevData, 'domain' | 'gcr3' | 'atsEnabled' | 'pprEnabled'>,
  guestPagingMode: number,
): Dte {
  const dom = dd.domain;
  const g = dd.gcr3;
  if (!dom && !g) return CLEAR_DTE;
  let dte: Dte = { ...CLEAR_DTE, ats: dd.atsEnabled, ppr: dd.pprEnabled };
  if (dom) dte = { ...dte, ir: true, iw: true, domainId: dom.id };
  if (dom?.pgtable === 'v1') {
    const v1 = dom as typeof dom & { levels: number; dirtyTracking: boolean };
    dte = { ...dte, mode: v1.levels, hostRoot: dom.root, had: v1.dirtyTracking ? 3 : 0 };
  }
  if (dom?.pgtable === 'v2') dte = { ...dte, giov: true };
  if (g) dte = { ...dte, gv: true, glx: g.glx, gcr3Root: g.root, domainId: g.domid, guestPagingMode };
  return dte;
}

/** Writes the four qwords of a DTE (the IOMMU sees them after INVALIDATE_DEVTAB_ENTRY). */
export function writeDte(phys: PhysMemory, devTable: bigint, devid: number, dte: Dte): void {
  const at = devTable + BigInt(devid * DTE_SIZE);
  const q = encodeDte(dte);
  // Upper half first, then the qword holding V: a reader never sees V with stale fields.
  for (const i of [3, 2, 1, 0]) phys.writeU64(at + BigInt(i * 8), q[i]!);
}

/** `get_gcr3_levels`: GLX for `pasids` PASIDs (9 bits per level). */
export function gcr3Levels(pasids: number): number {
  const order = Math.ceil(Math.log2(Math.max(pasids, 1)));
  return order ? Math.ceil(order / 9) - 1 : 0;
}

/** `__get_gcr3_pte` with alloc: the PA of PASID's entry, allocating intermediate tables. */
export function gcr3Entry(phys: PhysMemory, g: Gcr3Info, pasid: number): bigint {
  let table = g.root;
  for (let level = g.glx; level > 0; level--) {
    const at = table + BigInt(gcr3Index(pasid, level) * 8);
    let e = phys.readU64(at);
    if (!(e & GCR3_VALID)) {
      phys.failNth.point('table', 'amd.gcr3_table');
      const pfn = phys.allocPage();
      g.pages.push(pfn);
      e = (pfn << 12n) | GCR3_VALID;
      phys.writeU64(at, e);
    }
    table = e & GCR3_ADDR_MASK;
  }
  return table + BigInt(gcr3Index(pasid, 0) * 8);
}

/** `update_gcr3`: point PASID at a v2 table root, or clear it. */
export function setGcr3(phys: PhysMemory, g: Gcr3Info, pasid: number, root: bigint | undefined): void {
  phys.writeU64(gcr3Entry(phys, g, pasid), root === undefined ? 0n : (root & GCR3_ADDR_MASK) | GCR3_VALID);
}
