import type { DeviceRef } from '../driver.ts';
import type { AmdPagingDomain } from './domain.ts';

/** A device's GCR3 table (gcr3_tbl_info): its own DomainID tags every PASID's IOTLB entries. */
export interface Gcr3Info {
  readonly root: bigint;
  /** GCR3 table levels - 1 (the DTE's GLX). */
  readonly glx: number;
  readonly domid: number;
  /** Table pages (root first), for freeing. */
  readonly pages: bigint[];
  /** PASID → the domain whose v2 table its entry points at (PASID 0: the RID's v2 domain). */
  readonly pasids: Map<number, AmdPagingDomain>;
}

/** The driver's per-device state (struct iommu_dev_data). */
export class DevData {
  /** The RID's paging domain; undefined while blocked. */
  domain: AmdPagingDomain | undefined;
  atsEnabled = false;
  pprEnabled = false;
  gcr3: Gcr3Info | undefined;

  constructor(readonly ref: DeviceRef) {}

  get devid(): number {
    return this.ref.rid;
  }
}
