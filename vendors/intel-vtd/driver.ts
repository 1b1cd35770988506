import { type Observable, Subject } from 'rxjs';
import { fail } from '../../actors/iommufd/errno.ts';
import {
  IOMMU_HW_INFO_TYPE_DEFAULT,
  IOMMU_HW_INFO_TYPE_INTEL_VTD,
  IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
} from '../../actors/iommufd/uapi-iommufd.ts';
import { iommu_hw_info_vtd } from '../../actors/iommufd/uapi-structs-vendor.ts';
import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { type FaultSwitches, noFaults as noFarmFaults } from '../../actors/runtime/faults.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import type { Tracer } from '../../actors/runtime/trace.ts';
import type {
  DeviceRef,
  Domain,
  IommuCap,
  IommuDriver,
  IopfReport,
  NestedDomain,
  PagingDomain,
  ResvRegion,
  UserData,
} from '../driver.ts';
import { DeviceInfo } from './device-info.ts';
import { blockedDomain } from './domain-base.ts';
import { Flusher, IOMMU_NO_PASID, noFaults, type VtdFaults } from './flush.ts';
import type { VtdHardware } from './hardware.ts';
import { VtdIrqHandlers } from './irq-handlers.ts';
import { VtdNestedDomain } from './nested-domain.ts';
import { VtdPagingDomain } from './paging-domain.ts';
import { PasidOps } from './pasid-setup.ts';
import { QiSubmitter } from './qi-submit.ts';
import {
  capFs1gp,
  capSllps,
  DMA_GCMD_SRTP,
  DMA_GCMD_TE,
  DMA_RTADDR_SMT,
  DMAR_GCMD_REG,
  DMAR_RTADDR_REG,
  ecapDt,
  ecapFsts,
  ecapNest,
  ecapPasid,
  ecapPrs,
  ecapPss,
  ecapSmpwc,
  ecapSsads,
} from './regs.ts';

export interface VtdDriverOptions {
  /** Paging domains use first-stage tables unless nest-parent or dirty tracking (Linux 6.12+). */
  readonly firstStage: boolean;
  /** Report IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 (Linux sets it on every unit: it cannot probe it). */
  readonly errata772415: boolean;
  /** qi_submit_sync's poll period. */
  readonly pollNs: number;
  /** PRQ size: 2^prqOrder pages. */
  readonly prqOrder: number;
}

export const DEFAULT_DRIVER_OPTIONS: VtdDriverOptions = {
  firstStage: true,
  errata772415: true,
  pollNs: 100,
  prqOrder: 4,
};

/** `NUM_RESERVED_DID`: 0 and FLPT_DEFAULT_DID (1) are never handed out. */
const FIRST_DID = 2;
const MAX_DID = 1 << 16;

/**
 * The intel-iommu driver for one DMAR unit in scalable mode. It owns the root table, the
 * invalidation queue ring, device PASID tables and domain IDs; it reaches the hardware only
 * through its registers and memory. Boot mirrors `init_dmars`: QI on, root table set (SRTP),
 * fault and page-request interrupts unmasked, translation on, then the global flushes.
 */
export class VtdDriver implements IommuDriver {
  readonly vendor = 'intel-vtd' as const;
  readonly blockedDomain: Domain;
  /** Fault-injection switches (see VtdFaults); flip them at runtime. */
  readonly faults: VtdFaults = noFaults();
  readonly qi: QiSubmitter;
  readonly flusher: Flusher;
  readonly pasidOps: PasidOps;
  readonly rootTable: bigint;
  readonly ready: Promise<void>;
  readonly irqs: VtdIrqHandlers;
  readonly #contextTables = new Map<number, bigint>();
  readonly #infos = new Map<number, DeviceInfo>();
  readonly #dids = new Set<number>();
  #gcmd = 0;
  readonly #iopf = new Subject<IopfReport>();
  readonly iopf$: Observable<IopfReport> = this.#iopf.asObservable();

  constructor(
    readonly instance: string,
    readonly hw: VtdHardware,
    readonly phys: PhysMemory,
    readonly scheduler: Scheduler,
    readonly tracer: Tracer,
    readonly options: VtdDriverOptions = DEFAULT_DRIVER_OPTIONS,
    /** The farm-wide broken-twin switches, honoured alongside `faults`. */
    private readonly farmFaults: FaultSwitches = noFarmFaults(),
  ) {
    const regs = hw.regs;
    this.qi = new QiSubmitter(phys, regs, scheduler, {
      pollNs: options.pollNs,
      skipSync: () => this.activeFaults().skipSync,
      gcmd: () => this.#gcmd,
      setGcmd: (v) => this.#setGcmd(v),
    });
    this.flusher = new Flusher(this.qi, hw.cap, () => this.activeFaults());
    this.pasidOps = new PasidOps(this.flusher, ecapSmpwc(hw.ecap));
    this.blockedDomain = blockedDomain(this);
    this.qi.enable();
    this.rootTable = phys.allocPage() << 12n;
    regs.write64(DMAR_RTADDR_REG, this.rootTable | DMA_RTADDR_SMT);
    regs.write32(DMAR_GCMD_REG, this.#gcmd | DMA_GCMD_SRTP);
    this.irqs = new VtdIrqHandlers(this, (r) => this.#iopf.next(r));
    // Fresh hardware caches nothing, so translation goes on before the boot flushes complete.
    this.#setGcmd(this.#gcmd | DMA_GCMD_TE);
    this.ready = this.flusher.global();
  }

  /** The driver's switches or'ed with the farm's. */
  activeFaults(): VtdFaults {
    const own = this.faults;
    const farm = this.farmFaults;
    return {
      skipIotlbInvalidation: own.skipIotlbInvalidation || farm.skipIotlbInvalidation,
      skipAtcInvalidation: own.skipAtcInvalidation || farm.skipAtcInvalidation,
      skipPasidCacheInvalidation: own.skipPasidCacheInvalidation,
      skipSync: own.skipSync || farm.skipSync,
      wrongTag: own.wrongTag || farm.wrongInvalidationTag,
    };
  }

  #setGcmd(v: number): void {
    this.#gcmd = v;
    this.hw.regs.write32(DMAR_GCMD_REG, v);
  }

  capable(dev: DeviceRef, cap: IommuCap): boolean {
    switch (cap) {
      case 'CACHE_COHERENCY':
        return true;
      case 'DIRTY_TRACKING':
        return ecapSsads(this.hw.ecap);
      case 'PCI_ATS_SUPPORTED':
        return this.#owns(dev) && ecapDt(this.hw.ecap) && dev.ats;
      default:
        return false;
    }
  }

  /** `dev->iommu->max_pasids`: the device's PASID width, capped by ECAP.PSS. */
  maxPasids(dev: DeviceRef): number {
    if (!ecapPasid(this.hw.ecap) || dev.pasidBits === 0) return 0;
    return Math.min(2 ** dev.pasidBits, 2 ** (ecapPss(this.hw.ecap) + 1));
  }

  /** `intel_iommu_hw_info`. */
  hwInfo(_dev: DeviceRef, requestedType: number): { type: number; data: Uint8Array } {
    if (requestedType !== IOMMU_HW_INFO_TYPE_DEFAULT && requestedType !== IOMMU_HW_INFO_TYPE_INTEL_VTD) {
      fail('EOPNOTSUPP', `hw_info type ${requestedType}`);
    }
    const data = iommu_hw_info_vtd.encode({
      flags: this.options.errata772415 ? IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 : 0,
      cap_reg: this.hw.cap,
      ecap_reg: this.hw.ecap,
    });
    return { type: IOMMU_HW_INFO_TYPE_INTEL_VTD, data };
  }

  /** The x86 interrupt window (IOAPIC_RANGE_START..END) is reserved as MSI. */
  resvRegions(_dev: DeviceRef): ResvRegion[] {
    return [{ start: 0xfee0_0000n, length: 0x10_0000n, type: 'msi' }];
  }

  /** `intel_iommu_domain_alloc_paging_flags`. */
  domainAllocPaging(dev: DeviceRef, flags: number, data: UserData | undefined): PagingDomain {
    const dirty = (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0;
    const nestParent = (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0;
    const known = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID;
    if (flags & ~known) fail('EOPNOTSUPP', `paging flags 0x${flags.toString(16)}`);
    if (nestParent && !ecapNest(this.hw.ecap)) fail('EOPNOTSUPP', 'no nested translation');
    if (data || (dirty && !ecapSsads(this.hw.ecap))) fail('EOPNOTSUPP', 'user data or no SSADS');
    this.probe(dev);
    const firstStage = !nestParent && !dirty && this.options.firstStage && ecapFsts(this.hw.ecap);
    const superpage = firstStage
      ? capFs1gp(this.hw.cap)
        ? 2
        : 1
      : 32 - Math.clz32(capSllps(this.hw.cap) & 3);
    return new VtdPagingDomain(this, firstStage, nestParent, dirty, superpage);
  }

  /** `intel_iommu_domain_alloc_nested`. */
  domainAllocNested(dev: DeviceRef, parent: PagingDomain, flags: number, data: UserData): NestedDomain {
    return VtdNestedDomain.alloc(this, dev, parent, flags, data);
  }

  /** `intel_page_response`: a page group response descriptor for the group's last request. */
  pageResponse(dev: DeviceRef, pasid: number | undefined, grpid: number, code: number): void {
    void this.irqs.pageResponse(this.probe(dev), pasid, grpid, code, true);
  }

  /** `intel_iommu_probe_device` + `intel_pasid_setup_sm_context`, once per device. */
  probe(dev: DeviceRef): DeviceInfo {
    let info = this.#infos.get(dev.rid);
    if (info && info.dev.name === dev.name) return info;
    if (!this.#owns(dev)) fail('EINVAL', `${dev.name} is not behind ${this.instance}`);
    const ecap = this.hw.ecap;
    info = new DeviceInfo(this.phys, dev, {
      dt: ecapDt(ecap),
      pasid: ecapPasid(ecap),
      prs: ecapPrs(ecap),
      pasidMax: 2 ** (ecapPss(ecap) + 1),
    });
    try {
      info.installContext(this.rootTable, this.#contextTables);
    } catch (err) {
      info.freePasidTable(); // the directory must not outlive a failed probe
      throw err;
    }
    this.#infos.set(dev.rid, info);
    return info;
  }

  /** The probed device with this SID, if any. */
  infoByRid(rid: number): DeviceInfo | undefined {
    return this.#infos.get(rid);
  }

  /** PASID attach preconditions: the device tags PASIDs, and the PASID is in range and not RID_PASID. */
  checkPasid(info: DeviceInfo, pasid: number): void {
    if (!info.pasidSupported) fail('EOPNOTSUPP', `${info.dev.name} has no PASID support`);
    if (pasid === IOMMU_NO_PASID || pasid >= this.maxPasids(info.dev)) fail('EINVAL', `PASID ${pasid}`);
  }

  /** `paging_domain_compatible`. */
  checkDomainCompatible(domain: VtdPagingDomain, _info: DeviceInfo): void {
    if (domain.driver !== this) fail('EINVAL', 'domain belongs to another IOMMU');
    if (domain.dirty && !ecapSsads(this.hw.ecap)) fail('EINVAL', 'no dirty tracking here');
    if (domain.useFirstLevel && !ecapFsts(this.hw.ecap)) fail('EINVAL', 'no first-stage translation here');
  }

  allocDid(): number {
    for (let did = FIRST_DID; did < MAX_DID; did++) {
      if (!this.#dids.has(did)) {
        this.#dids.add(did);
        return did;
      }
    }
    fail('ENOSPC', 'domain IDs exhausted');
  }

  freeDid(did: number): void {
    this.#dids.delete(did);
  }

  /** `intel_iommu_drain_pasid_prq` for a device with PRI (no-op otherwise). */
  drainPasidPrq(info: DeviceInfo, pasid: number, did: number): Promise<void> {
    return this.irqs.drainPasidPrq(info, pasid, did);
  }

  #owns(dev: DeviceRef): boolean {
    return this.hw.devices.get(dev.rid)?.name === dev.name;
  }
}
