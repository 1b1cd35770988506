import { Subject } from 'rxjs';
import { fail, IommufdError } from '../../actors/iommufd/errno.ts';
import {
  IOMMU_HW_INFO_TYPE_AMD,
  IOMMU_HW_INFO_TYPE_DEFAULT,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
} from '../../actors/iommufd/uapi-iommufd.ts';
import { iommu_hw_info_amd } from '../../actors/iommufd/uapi-structs-vendor.ts';
import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import type {
  DeviceRef,
  Domain,
  IommuCap,
  IommuDriver,
  IopfReport,
  PagingDomain,
  ResvRegion,
  UserData,
} from '../driver.ts';
import { attachPasid, attachRid } from './attach.ts';
import type { BootLayout } from './boot.ts';
import { buildCompletePpr, PPR_STATUS_INVALID } from './commands.ts';
import { DevData } from './dev-data.ts';
import type { AmdPagingDomain } from './domain.ts';
import { AmdV1Domain } from './domain-v1.ts';
import { AmdV2Domain } from './domain-v2.ts';
import { composeDte, writeDte } from './dte-writer.ts';
import type { AmdEvent, PprEntry } from './events.ts';
import { PPR_FLAG_GN } from './events.ts';
import type { AmdViFaults } from './faults.ts';
import { completion, domainFlushAll, domainFlushPages, flushDte } from './flush.ts';
import type { AmdViHardware } from './hardware.ts';
import type { IrqThread } from './irq.ts';
import type { CmdIssuer } from './issuer.ts';
import { pprReport, pprStatus } from './ppr-report.ts';
import * as R from './regs.ts';

export interface AmdViDriverOptions {
  /** Default table of an unflagged domain (amd_iommu=pgtbl_v1/v2). */
  readonly pgtable: 'v1' | 'v2';
  /** The IOMMU reports NpCache: flushes go out in naturally aligned pieces. */
  readonly npCache: boolean;
  /** The IOMMU's IOTLB support (capability header IotlbSup): ATS for capable devices. */
  readonly iotlbSup: boolean;
}

const MAX_DOMAIN_ID = 0x10000;
const MSI_START = 0xfee0_0000n;
const MSI_END = 0xfeef_ffffn;
const HT_START = 0xfd_0000_0000n;
const HT_END = 0xff_ffff_ffffn;
const EVENT_KEEP = 4096;

/** The amd_iommu kernel driver for one IOMMU: boot done, then iommu_ops for iommufd. */
export class AmdViDriver implements IommuDriver {
  readonly vendor = 'amd-vi' as const;
  readonly blockedDomain: Domain;
  /** Broken-twin switches (each also follows the farm-wide switch of the same name). */
  faults: AmdViFaults = {};
  /** Decoded event log entries, as the kernel log would print them (latest EVENT_KEEP). */
  readonly events: Array<AmdEvent & { name: string }> = [];
  /** Flush failures the kernel would WARN about (completion-wait or command-buffer timeouts). */
  readonly errors: string[] = [];
  readonly iopf$ = new Subject<IopfReport>();
  readonly issuer: CmdIssuer;
  readonly devTable: bigint;
  /** The interrupt thread draining the event and PPR logs. */
  irq: IrqThread | undefined;
  readonly #devs = new Map<number, DevData>();
  readonly #domainIds = new Set<number>();
  #lock: Promise<void> = Promise.resolve();

  constructor(
    readonly instance: string,
    readonly hw: AmdViHardware,
    readonly phys: PhysMemory,
    readonly scheduler: Scheduler,
    layout: BootLayout,
    readonly opts: AmdViDriverOptions,
  ) {
    this.issuer = layout.issuer;
    this.devTable = layout.devTable;
    this.blockedDomain = {
      kind: 'blocked',
      driver: this,
      attachDev: (dev, pasid) =>
        pasid === undefined
          ? attachRid(this, this.devData(dev), undefined)
          : attachPasid(this, this.devData(dev), pasid, undefined),
      free: () => {},
    };
  }

  get npCache(): boolean {
    return this.opts.npCache;
  }

  get efr(): bigint {
    return this.hw.efr;
  }

  get pprSupported(): boolean {
    return (this.efr & R.FEATURE_PPR) !== 0n;
  }

  /** `amd_iommu_pasid_supported`: GT, PPR and EPHSup. */
  get pasidSupported(): boolean {
    const need = R.FEATURE_GT | R.FEATURE_PPR | R.FEATURE_EPHSUP;
    return (this.efr & need) === need;
  }

  get maxGlx(): number {
    return R.field(this.efr, R.FEATURE_GLX_SHIFT, 2n);
  }

  /** DTE GuestPagingMode for v2 tables: 5-level when EFR.GATS says so. */
  get guestPagingMode(): number {
    return R.guestLevels(this.efr) === 5 ? 1 : 0;
  }

  devData(dev: DeviceRef): DevData {
    let dd = this.#devs.get(dev.rid);
    if (!dd) this.#devs.set(dev.rid, (dd = new DevData(dev)));
    return dd;
  }

  capable(dev: DeviceRef, cap: IommuCap): boolean {
    switch (cap) {
      case 'CACHE_COHERENCY':
        return true;
      case 'DIRTY_TRACKING':
        return (this.efr & R.FEATURE_HDSUP) !== 0n;
      case 'PCI_ATS_SUPPORTED':
        return dev.ats && this.opts.iotlbSup;
      default:
        return false;
    }
  }

  /** min(pci_max_pasids, (1 << (PASmax + 1)) - 1) when the IOMMU supports PASIDs. */
  maxPasids(dev: DeviceRef): number {
    if (dev.pasidBits === 0 || !this.pasidSupported) return 0;
    return Math.min(2 ** dev.pasidBits, 2 ** R.pasidBits(this.efr) - 1);
  }

  hwInfo(_dev: DeviceRef, requestedType: number) {
    if (requestedType !== IOMMU_HW_INFO_TYPE_DEFAULT && requestedType !== IOMMU_HW_INFO_TYPE_AMD)
      fail('EOPNOTSUPP', `hw_info type ${requestedType}`);
    return {
      type: IOMMU_HW_INFO_TYPE_AMD,
      data: iommu_hw_info_amd.encode({ efr: this.efr, efr2: this.hw.efr2 }),
    };
  }

  /** The x86 MSI window, and the HyperTransport range unless EFR2 says to ignore it. */
  resvRegions(_dev: DeviceRef): ResvRegion[] {
    const out: ResvRegion[] = [{ start: MSI_START, length: MSI_END - MSI_START + 1n, type: 'msi' }];
    if (!(this.hw.efr2 & R.FEATURE2_HT_RANGE_IGNORE))
      out.push({ start: HT_START, length: HT_END - HT_START + 1n, type: 'reserved' });
    return out;
  }

  /** `amd_iommu_domain_alloc_paging_flags`. */
  domainAllocPaging(_dev: DeviceRef, flags: number, data: UserData | undefined): PagingDomain {
    const dirty = IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
    const nest = IOMMU_HWPT_ALLOC_NEST_PARENT;
    if (flags & ~(dirty | IOMMU_HWPT_ALLOC_PASID | nest) || data)
      fail('EOPNOTSUPP', 'amd-vi paging flags or data');
    switch (flags) {
      case dirty:
      case nest:
      case dirty | nest:
        if (flags & dirty && !(this.efr & R.FEATURE_HDSUP)) break;
        if (flags & nest && !this.#nestParentSupported()) break;
        return this.#allocV1((flags & nest) !== 0, (flags & dirty) !== 0);
      case IOMMU_HWPT_ALLOC_PASID:
        if (!this.pasidSupported) break;
        return this.#allocV2();
      case 0:
        return this.opts.pgtable === 'v2' && this.pasidSupported
          ? this.#allocV2()
          : this.#allocV1(false, false);
      default:
        break;
    }
    fail('EOPNOTSUPP', `amd-vi cannot allocate flags 0x${flags.toString(16)}`);
  }

  #nestParentSupported(): boolean {
    const need = R.FEATURE_GT | R.FEATURE_GIOSUP;
    return (this.efr & need) === need && (this.hw.efr2 & R.FEATURE2_GCR3TRPMODE) !== 0n;
  }

  #allocV1(nestParent: boolean, dirty: boolean): AmdV1Domain {
    return this.#withDomainId((id) => new AmdV1Domain(this, id, R.hostLevels(this.efr), nestParent, dirty));
  }

  #allocV2(): AmdV2Domain {
    return this.#withDomainId((id) => new AmdV2Domain(this, id, R.guestLevels(this.efr)));
  }

  /** A DomainID for a domain being built; given back if building it fails (no root table). */
  #withDomainId<T>(build: (id: number) => T): T {
    const id = this.allocDomainId();
    try {
      return build(id);
    } catch (err) {
      this.freeDomainId(id);
      throw err;
    }
  }

  /** `pdom_id_alloc`: the lowest free DomainID from 1. */
  allocDomainId(): number {
    for (let id = 1; id < MAX_DOMAIN_ID; id++) {
      if (!this.#domainIds.has(id)) {
        this.#domainIds.add(id);
        return id;
      }
    }
    fail('ENOSPC', 'no free DomainID');
  }

  freeDomainId(id: number): void {
    this.#domainIds.delete(id);
  }

  attach(domain: AmdPagingDomain, dev: DeviceRef, pasid: number | undefined, _old: Domain | undefined) {
    const dd = this.devData(dev);
    return pasid === undefined ? attachRid(this, dd, domain) : attachPasid(this, dd, pasid, domain);
  }

  /**
   * Runs one command sequence after the previous one, so sequences never interleave in the
   * ring. Timeouts are recorded, not thrown: the kernel WARNs and goes on.
   */
  serialize(fn: () => Promise<void>): Promise<void> {
    const run = this.#lock.then(fn).catch((err: unknown) => {
      if (!IommufdError.is(err)) throw err;
      this.errors.push(err.message);
    });
    this.#lock = run.catch(() => undefined);
    return run;
  }

  flushPages(domain: AmdPagingDomain, iova: bigint, size: bigint): Promise<void> {
    return this.serialize(() => domainFlushPages(this, domain, iova, size));
  }

  /** Flush the whole domain (PDE=1), then run `after` (freeing replaced tables). */
  flushAllThen(domain: AmdPagingDomain, after: () => void): Promise<void> {
    return this.serialize(() => domainFlushAll(this, domain)).then(after);
  }

  /** `amd_iommu_set_dirty_tracking`: HAD in every attached DTE, DTE flushes, one domain flush. */
  setDirtyTracking(domain: AmdV1Domain, enable: boolean): Promise<void> {
    if (domain.dirtyTracking === enable) return Promise.resolve();
    domain.dirtyTracking = enable;
    const devs = [...domain.devices];
    for (const dd of devs) writeDte(this.phys, this.devTable, dd.devid, composeDte(dd, this.guestPagingMode));
    return this.serialize(async () => {
      for (const dd of devs) await flushDte(this, dd, dd.atsEnabled);
      if (devs.length > 0) await domainFlushAll(this, domain);
      else await completion(this);
    });
  }

  /** `amd_iommu_page_response` → COMPLETE_PPR_REQUEST. */
  pageResponse(dev: DeviceRef, pasid: number | undefined, grpid: number, code: number): void {
    const cmd = buildCompletePpr(dev.rid, pasid, pprStatus(code), grpid);
    void this.serialize(() => this.issuer.queue(cmd));
  }

  /** The interrupt thread's event sink. */
  onEvent(e: AmdEvent & { name: string }): void {
    this.events.push(e);
    if (this.events.length > EVENT_KEEP) this.events.shift();
  }

  /** A PPR log entry → `iommu_report_device_fault`, or Invalid when nobody handles faults. */
  onPpr(p: PprEntry): void {
    const dd = this.#devs.get(p.devid);
    const report = dd && this.iopf$.observed ? pprReport(dd.ref, p) : undefined;
    if (report) this.iopf$.next(report);
    else {
      const pasid = p.flags & PPR_FLAG_GN ? p.pasid : undefined;
      void this.serialize(() =>
        this.issuer.queue(buildCompletePpr(p.devid, pasid, PPR_STATUS_INVALID, p.tag)),
      );
    }
  }
}
