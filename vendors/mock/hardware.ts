import type { Domain } from '../driver.ts';
import type { DmaFault, DmaRequest, IommuHardware, TranslateResult } from '../hardware.ts';

/** A mock IOMMU has no caches: it reads the attached domain's table on every access. */
export interface MockTranslating {
  lookup(
    iova: bigint,
    write: boolean,
  ): { pa: bigint; pageSize: bigint } | 'not-present' | 'permission' | 'aperture';
}

interface RequesterTable {
  rid: Domain | undefined;
  readonly pasids: Map<number, Domain>;
}

/**
 * The mock IOMMU's data plane: a table from requester (RID, PASID) to domain, written by the
 * mock driver's attach. DMA from a requester with no translating domain is blocked.
 */
export class MockHardware implements IommuHardware {
  readonly vendor = 'mock' as const;
  readonly #table = new Map<number, RequesterTable>();

  constructor(readonly name: string) {}

  setDomain(rid: number, pasid: number | undefined, domain: Domain | undefined): void {
    let entry = this.#table.get(rid);
    if (!entry) {
      entry = { rid: undefined, pasids: new Map() };
      this.#table.set(rid, entry);
    }
    if (pasid === undefined) entry.rid = domain;
    else if (domain) entry.pasids.set(pasid, domain);
    else entry.pasids.delete(pasid);
  }

  domainOf(rid: number, pasid: number | undefined): Domain | undefined {
    const entry = this.#table.get(rid);
    return pasid === undefined ? entry?.rid : entry?.pasids.get(pasid);
  }

  translate(req: DmaRequest): TranslateResult {
    const domain = this.domainOf(req.rid, req.pasid) as (Domain & Partial<MockTranslating>) | undefined;
    if (!domain?.lookup) return { ok: false, fault: this.#fault(req, 'blocked') };
    const hit = domain.lookup(req.iova, req.write);
    if (typeof hit === 'string') return { ok: false, fault: this.#fault(req, hit) };
    return { ok: true, pa: hit.pa, pageSize: hit.pageSize, cached: false };
  }

  #fault(req: DmaRequest, reason: DmaFault['reason']): DmaFault {
    return {
      vendor: 'mock',
      iommu: this.name,
      reason,
      rid: req.rid,
      pasid: req.pasid,
      iova: req.iova,
      write: req.write,
      record: { reason },
    };
  }
}
