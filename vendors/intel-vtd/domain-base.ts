import type { DeviceRef, Domain } from '../driver.ts';
import { CacheTags } from './cache-tags.ts';
import type { DeviceInfo } from './device-info.ts';
import type { VtdDriver } from './driver.ts';
import { IOMMU_NO_PASID } from './flush.ts';
import type { PasidConfigSpec } from './pasid-setup.ts';

/**
 * What VT-d paging and nested domains share: a domain ID on the unit (allocated on first
 * attach, `domain_attach_iommu`), cache tags, and attach by writing the PASID entry of the
 * RID (RID_PASID 0) or of one PASID, with Linux's invalidations.
 */
export abstract class VtdDomain implements Domain {
  abstract readonly kind: 'paging' | 'nested';
  readonly tags = new CacheTags();
  #did: number | undefined;
  #didUsers = 0;
  /** Attachments: `${sid}:${pasid}` → device. */
  readonly attachments = new Map<string, { info: DeviceInfo; pasid: number }>();

  constructor(readonly driver: VtdDriver) {}

  get did(): number | undefined {
    return this.#did;
  }

  /** The PASID entry this domain wants for `did`. */
  abstract pasidSpec(did: number): PasidConfigSpec;
  /** First-stage and nested domains are flushed with p_iotlb (`intel_domain_use_piotlb`). */
  abstract get usePiotlb(): boolean;
  /** `paging_domain_compatible`: EINVAL when this unit cannot run the domain for `info`. */
  abstract checkCompatible(info: DeviceInfo): void;
  abstract free(): void;

  /** Nested domains also tag their parent (`__cache_tag_assign_parent_domain`). */
  protected assignTags(did: number, pasid: number, info: DeviceInfo): void {
    this.tags.assignDomain(did, pasid, info);
  }

  protected unassignTags(did: number, pasid: number, info: DeviceInfo): void {
    this.tags.unassignDomain(did, pasid, info);
  }

  async attachDev(dev: DeviceRef, pasid: number | undefined, _old: Domain | undefined): Promise<void> {
    const drv = this.driver;
    await drv.ready;
    const info = drv.probe(dev);
    if (pasid !== undefined) drv.checkPasid(info, pasid);
    this.checkCompatible(info);
    const p = pasid ?? IOMMU_NO_PASID;
    const did = this.#getDid();
    this.assignTags(did, p, info);
    const prev = info.domains.get(p);
    try {
      const present = info.readEntry(p)?.p === true;
      if (present && prev instanceof VtdDomain && prev.did !== undefined) {
        await drv.pasidOps.replace(info, p, this.pasidSpec(did), prev.did);
      } else {
        if (present) await drv.pasidOps.tearDown(info, p, false);
        drv.pasidOps.setup(info, p, this.pasidSpec(did));
      }
    } catch (err) {
      this.unassignTags(did, p, info);
      this.#putDid();
      throw err;
    }
    if (prev instanceof VtdDomain && prev !== this) prev.detached(info, p);
    else if (prev === this) this.detached(info, p);
    info.domains.set(p, this);
    this.attachments.set(`${info.sid}:${p}`, { info, pasid: p });
  }

  /** Bookkeeping once the PASID entry no longer points here: tags and the DID reference go. */
  detached(info: DeviceInfo, pasid: number): void {
    const key = `${info.sid}:${pasid}`;
    if (!this.attachments.delete(key) || this.#did === undefined) return;
    this.unassignTags(this.#did, pasid, info);
    this.#putDid();
  }

  #getDid(): number {
    if (this.#did === undefined) this.#did = this.driver.allocDid();
    this.#didUsers++;
    return this.#did;
  }

  #putDid(): void {
    if (--this.#didUsers > 0 || this.#did === undefined) return;
    this.driver.freeDid(this.#did);
    this.#did = undefined;
  }
}

/** `blocking_domain`: tears the PASID entry down so DMA from that requester faults. */
export function blockedDomain(driver: VtdDriver): Domain {
  return {
    kind: 'blocked',
    driver,
    attachDev: async (dev, pasid) => {
      await driver.ready;
      const info = driver.probe(dev);
      const p = pasid ?? IOMMU_NO_PASID;
      const prev = info.domains.get(p);
      const did = await driver.pasidOps.tearDown(info, p, false);
      // Only a PASID that was live can have page requests in flight.
      if (did !== undefined) await driver.drainPasidPrq(info, p, did);
      if (prev instanceof VtdDomain) prev.detached(info, p);
      info.domains.delete(p);
    },
    free: () => {},
  };
}
