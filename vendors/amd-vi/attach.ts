import { fail } from '../../actors/iommufd/errno.ts';
import type { DevData, Gcr3Info } from './dev-data.ts';
import type { AmdPagingDomain } from './domain.ts';
import type { AmdViDriver } from './driver.ts';
import { composeDte, gcr3Levels, setGcr3, writeDte } from './dte-writer.ts';
import { completion, devFlushPasidAll, domainFlushAll, flushDte } from './flush.ts';

/** `setup_gcr3_table`: a GCR3 root for the device's PASIDs and a DomainID of its own. */
function ensureGcr3(drv: AmdViDriver, dd: DevData): Gcr3Info {
  if (dd.gcr3) return dd.gcr3;
  const glx = gcr3Levels(drv.maxPasids(dd.ref));
  if (glx > drv.maxGlx) fail('EINVAL', `a GCR3 table of ${glx + 1} levels exceeds GLXSup`);
  const domid = drv.allocDomainId();
  let pfn: bigint;
  try {
    drv.phys.failNth.point('table', 'amd.gcr3_root');
    pfn = drv.phys.allocPage();
  } catch (err) {
    drv.freeDomainId(domid); // setup_gcr3_table: pdom_id_free on a failed table allocation
    throw err;
  }
  dd.gcr3 = { root: pfn << 12n, glx, domid, pages: [pfn], pasids: new Map() };
  return dd.gcr3;
}

/** `destroy_gcr3_table`, after every flush that named its DomainID. */
function freeGcr3(drv: AmdViDriver, g: Gcr3Info): void {
  for (const pfn of g.pages) drv.phys.put(pfn);
  drv.freeDomainId(g.domid);
}

function enableCaps(drv: AmdViDriver, dd: DevData): void {
  dd.atsEnabled = dd.ref.ats && drv.capable(dd.ref, 'PCI_ATS_SUPPORTED');
  dd.pprEnabled = dd.atsEnabled && dd.ref.pri && drv.pprSupported;
}

function disableCaps(dd: DevData): void {
  dd.atsEnabled = false;
  dd.pprEnabled = false;
}

/**
 * RID attach (`attach_device`; with `domain` undefined, detach to the blocked domain): DTE write
 * + INVALIDATE_DEVTAB_ENTRY (+ the whole device IOTLB while ATS is on) + COMPLETION_WAIT; a v2
 * RID domain also flushes PASID 0 of the device's GCR3 DomainID; then the old domain's IOTLB is
 * flushed before its table may be reused (do_detach).
 */
export async function attachRid(drv: AmdViDriver, dd: DevData, domain: AmdPagingDomain | undefined) {
  const old = dd.domain;
  if (old === domain) return;
  const otherPasids = dd.gcr3 ? [...dd.gcr3.pasids.keys()].some((p) => p !== 0) : false;
  if (domain?.pgtable === 'v1' && otherPasids)
    fail('EINVAL', 'PASIDs are attached: the RID needs a v2 domain');
  if (domain?.dirty && !drv.capable(dd.ref, 'DIRTY_TRACKING')) fail('EINVAL', 'the IOMMU has no HD support');
  if (domain?.pgtable === 'v2') ensureGcr3(drv, dd);
  const atsBefore = dd.atsEnabled;
  dd.domain = domain;
  domain?.devices.add(dd);
  const g = dd.gcr3;
  const pasid0 = g !== undefined && (old?.pgtable === 'v2' || domain?.pgtable === 'v2');
  if (g && domain?.pgtable === 'v2') g.pasids.set(0, domain);
  else g?.pasids.delete(0);
  if (pasid0) setGcr3(drv.phys, g!, 0, domain?.pgtable === 'v2' ? domain.root : undefined);
  // An unused GCR3 table leaves the DTE now, but its DomainID is freed only after the flushes.
  const drop = g && g.pasids.size === 0 ? g : undefined;
  if (domain) enableCaps(drv, dd);
  const ats = atsBefore || dd.atsEnabled;
  const next = { domain, gcr3: drop ? undefined : g, atsEnabled: dd.atsEnabled, pprEnabled: dd.pprEnabled };
  writeDte(drv.phys, drv.devTable, dd.devid, composeDte(next, drv.guestPagingMode));
  await drv.serialize(async () => {
    await flushDte(drv, dd, ats);
    await completion(drv);
    if (pasid0) await devFlushPasidAll(drv, dd, g!.domid, 0, ats);
    // do_detach: the old domain's flush still counts this device (its ATC too).
    if (old) await domainFlushAll(drv, old);
  });
  old?.devices.delete(dd);
  if (drop) {
    dd.gcr3 = undefined;
    freeGcr3(drv, drop);
  }
  // pdev_disable_caps: ATS and PRI go off with the last translation.
  if (!domain && !dd.gcr3) disableCaps(dd);
}

/**
 * PASID attach of a v2 domain (`set_dev_pasid`), or its removal with `domain` undefined: the
 * GCR3 entry, the DTE when the table appears or goes, then `dev_flush_pasid_all`.
 */
export async function attachPasid(
  drv: AmdViDriver,
  dd: DevData,
  pasid: number,
  domain: AmdPagingDomain | undefined,
) {
  // GCR3 slot 0 belongs to the RID's v2 domain (GIOV): no PASID attach or detach may touch it,
  // not even one that names the RID's own domain (that used to return early, and its detach
  // then freed the RID's GCR3 table under it).
  const old = dd.gcr3?.pasids.get(pasid);
  if (pasid <= 0 || pasid >= drv.maxPasids(dd.ref)) {
    if (domain === undefined && (old === undefined || pasid > 0)) return; // nothing there to clear
    fail('EINVAL', `PASID ${pasid} out of range`);
  }
  if (old === domain) return;
  if (domain && domain.pgtable !== 'v2') fail('EINVAL', 'a PASID needs a v2 domain');
  if (domain && dd.domain?.pgtable === 'v1') fail('EINVAL', 'the RID domain uses a v1 table');
  const hadTable = dd.gcr3 !== undefined;
  const g = domain ? ensureGcr3(drv, dd) : dd.gcr3!;
  const atsBefore = dd.atsEnabled;
  if (old) {
    const set = old.pasids.get(dd);
    set?.delete(pasid);
    if (set?.size === 0) old.pasids.delete(dd);
  }
  if (domain) {
    g.pasids.set(pasid, domain);
    let set = domain.pasids.get(dd);
    if (!set) domain.pasids.set(dd, (set = new Set()));
    set.add(pasid);
    if (!dd.domain && !hadTable) enableCaps(drv, dd);
  } else g.pasids.delete(pasid);
  setGcr3(drv.phys, g, pasid, domain?.root);
  const drop = g.pasids.size === 0 ? g : undefined;
  if (drop) {
    dd.gcr3 = undefined;
    if (!dd.domain) disableCaps(dd);
  }
  const ats = atsBefore || dd.atsEnabled;
  const dteChanged = !hadTable || drop !== undefined;
  if (dteChanged) writeDte(drv.phys, drv.devTable, dd.devid, composeDte(dd, drv.guestPagingMode));
  await drv.serialize(async () => {
    if (dteChanged) {
      await flushDte(drv, dd, ats);
      await completion(drv);
    }
    await devFlushPasidAll(drv, dd, g.domid, pasid, ats);
  });
  if (drop) freeGcr3(drv, drop);
}
