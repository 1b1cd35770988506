import {
  buildInvDte,
  buildInvIommuPages,
  buildInvIotlbPages,
  type CmdWords,
  INV_ALL_PAGES_ADDRESS,
} from './commands.ts';
import type { DevData } from './dev-data.ts';
import type { AmdPagingDomain } from './domain.ts';
import type { AmdViFaults } from './faults.ts';
import type { CmdIssuer } from './issuer.ts';

/** PCIe ATS Invalidate Queue Depth the driver passes (MaxPend). */
export const ATS_QDEP = 0x20;
/** `device_flush_iotlb(dev_data, 0, ~0UL, ...)`: the whole IOTLB of the device. */
const ALL_BYTES = (1n << 64n) - 1n;

/** What the flush sequences need from the driver. */
export interface Flusher {
  readonly issuer: CmdIssuer;
  readonly faults: AmdViFaults;
  /** IOMMU reports NpCache: flush in naturally aligned power-of-two pieces. */
  readonly npCache: boolean;
}

function tag(f: Flusher, domid: number): number {
  return f.faults.wrongTag ? (domid + 1) & 0xffff : domid;
}

async function iotlb(f: Flusher, cmd: CmdWords): Promise<void> {
  if (!f.faults.skipIotlbInvalidation) await f.issuer.queue(cmd);
}

async function atc(f: Flusher, dd: DevData, address: bigint, size: bigint, pasid: number | undefined) {
  if (dd.atsEnabled && !f.faults.skipAtcInvalidation)
    await f.issuer.queue(buildInvIotlbPages(dd.devid, ATS_QDEP, address, size, pasid));
}

/** `iommu_completion_wait`: COMPLETION_WAIT with store, then poll. */
export async function completion(f: Flusher): Promise<void> {
  if (!f.faults.skipSync) await f.issuer.completionWait();
}

/** `device_flush_dte`: INVALIDATE_DEVTAB_ENTRY, and the whole device IOTLB while ATS is (or was) on. */
export async function flushDte(f: Flusher, dd: DevData, ats: boolean): Promise<void> {
  if (!f.faults.skipDteInvalidation) await f.issuer.queue(buildInvDte(dd.devid));
  if (ats && !f.faults.skipAtcInvalidation)
    await f.issuer.queue(buildInvIotlbPages(dd.devid, ATS_QDEP, 0n, ALL_BYTES, undefined));
}

/**
 * `__domain_flush_pages`: v1 → INVALIDATE_IOMMU_PAGES on the DomainID; v2 → one per device on
 * its GCR3 DomainID with GN=1 (PASID 0 for the RID, each attached PASID); then the ATS devices'
 * IOTLBs. The RID's ATC invalidation carries no PASID: the device cached its untagged requests so.
 */
async function flushPagesNoWait(f: Flusher, dom: AmdPagingDomain, address: bigint, size: bigint) {
  if (dom.pgtable === 'v1') await iotlb(f, buildInvIommuPages(tag(f, dom.id), undefined, address, size));
  else {
    for (const dd of dom.devices)
      await iotlb(f, buildInvIommuPages(tag(f, dd.gcr3!.domid), 0, address, size));
    for (const [dd, pasids] of dom.pasids)
      for (const p of pasids) await iotlb(f, buildInvIommuPages(tag(f, dd.gcr3!.domid), p, address, size));
  }
  for (const dd of dom.devices) await atc(f, dd, address, size, undefined);
  for (const [dd, pasids] of dom.pasids) for (const p of pasids) await atc(f, dd, address, size, p);
}

/**
 * `amd_iommu_domain_flush_pages` + `domain_flush_complete`: one power-of-two range, or with
 * NpCache several naturally aligned pieces, then one COMPLETION_WAIT. Nothing to do for a
 * domain no device uses.
 */
export async function domainFlushPages(f: Flusher, dom: AmdPagingDomain, address: bigint, size: bigint) {
  if (!dom.attached) return;
  if (!f.npCache) await flushPagesNoWait(f, dom, address, size);
  else {
    let at = address;
    let left = size;
    while (left > 0n) {
      const sizeAlign = left.toString(2).length - 1;
      const addrAlign = at === 0n ? sizeAlign : lowestBit(at);
      const piece = 1n << BigInt(Math.min(addrAlign, sizeAlign));
      await flushPagesNoWait(f, dom, at, piece);
      at += piece;
      left -= piece;
    }
  }
  await completion(f);
}

/** `amd_iommu_domain_flush_all`. */
export function domainFlushAll(f: Flusher, dom: AmdPagingDomain): Promise<void> {
  return domainFlushPages(f, dom, 0n, INV_ALL_PAGES_ADDRESS);
}

/**
 * `dev_flush_pasid_all`: every page of one PASID under the device's GCR3 DomainID, the device
 * IOTLB for it (PASID 0 is the RID's: untagged at the device), then wait.
 */
export async function devFlushPasidAll(f: Flusher, dd: DevData, domid: number, pasid: number, ats: boolean) {
  await iotlb(f, buildInvIommuPages(tag(f, domid), pasid, 0n, INV_ALL_PAGES_ADDRESS));
  if (ats && !f.faults.skipAtcInvalidation) {
    const p = pasid === 0 ? undefined : pasid;
    await f.issuer.queue(buildInvIotlbPages(dd.devid, ATS_QDEP, 0n, INV_ALL_PAGES_ADDRESS, p));
  }
  await completion(f);
}

function lowestBit(v: bigint): number {
  let n = 0;
  while (!((v >> BigInt(n)) & 1n)) n++;
  return n;
}
