import { fail } from '../../actors/iommufd/errno.ts';
import {
  IOMMU_HW_INFO_TYPE_ARM_SMMUV3,
  IOMMU_HW_INFO_TYPE_DEFAULT,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
} from '../../actors/iommufd/uapi-iommufd.ts';
import { iommu_hw_info_arm_smmuv3 } from '../../actors/iommufd/uapi-structs-vendor.ts';
import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { FaultSwitches } from '../../actors/runtime/faults.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import type {
  DeviceRef,
  Domain,
  IommuCap,
  IommuDriver,
  PagingDomain,
  ResvRegion,
  UserData,
} from '../driver.ts';
import { attachRidBlocked, removePasid } from './attach.ts';
import { Smmuv3PagingDomain } from './domain.ts';
import { activeFaults, DriverCmdq, noDriverFaults, type Smmuv3DriverFaults } from './driver-cmdq.ts';
import { initSmmu } from './driver-init.ts';
import { allocDriverQueue as allocQueue, DriverIrqs } from './driver-irq.ts';
import type { Smmuv3Features, Smmuv3Options } from './features.ts';
import type { Smmuv3Hardware } from './hardware.ts';
import { Master } from './master.ts';
import * as R from './regs.ts';
import { StreamTable } from './strtab.ts';

const PAGING_FLAGS = IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_ALLOC_NEST_PARENT;

/**
 * The kernel's arm-smmu-v3 driver for one SMMU: it owns the stream table, CD tables, queues and
 * io-pgtables in memory, and talks to the hardware only through registers and the CMDQ.
 */
export class Smmuv3Driver implements IommuDriver {
  readonly vendor = 'arm-smmuv3' as const;
  readonly phys: PhysMemory;
  readonly scheduler: Scheduler;
  readonly features: Smmuv3Features;
  /** Fault injection: set fields at runtime to make the driver forget steps. */
  readonly faults: Smmuv3DriverFaults = noDriverFaults();
  /** What the driver obeys: `faults` or the farm-wide switches. */
  readonly active: Smmuv3DriverFaults;
  readonly cmdq: DriverCmdq;
  readonly irqs: DriverIrqs;
  readonly strtab: StreamTable;
  readonly blockedDomain: Domain;
  /** Resolves once `arm_smmu_device_reset` has run (queues enabled, caches flushed, SMMUEN). */
  readonly ready: Promise<void>;
  readonly #masters = new Map<number, Master>();
  readonly #asids = new Set<number>();
  readonly #vmids = new Set<number>();
  readonly #pending = new Set<Promise<void>>();

  constructor(
    readonly instance: string,
    readonly hw: Smmuv3Hardware,
    options: Smmuv3Options,
    farmFaults?: Partial<FaultSwitches>,
  ) {
    this.active = activeFaults(this.faults, farmFaults);
    this.phys = hw.phys;
    this.scheduler = hw.scheduler;
    this.features = hw.features;
    const f = this.features;
    this.strtab = new StreamTable(this.phys, f);
    const msiPoll = (options.msiPoll ?? true) && f.msi && f.coherent;
    this.cmdq = new DriverCmdq(hw, this.phys, this.scheduler, cmdqShift(options, f), msiPoll, this.active);
    this.irqs = new DriverIrqs(
      hw,
      this.phys,
      this.scheduler,
      this.cmdq,
      ...initQueues(this.phys, f, options),
    );
    this.blockedDomain = {
      kind: 'blocked',
      driver: this,
      attachDev: async (dev, pasid, old) => {
        await this.ready;
        const m = this.master(dev);
        if (pasid === undefined) await attachRidBlocked(this, m, old);
        else await removePasid(this, m, pasid, old);
      },
      free: () => {},
    };
    hw.onProbe = (sid) => this.strtab.ensure(sid);
    this.ready = initSmmu(this);
  }

  /** `arm_smmu_probe_device`'s master, created on first use. */
  master(dev: DeviceRef): Master {
    let m = this.#masters.get(dev.rid);
    if (!m) {
      this.strtab.ensure(dev.rid);
      m = new Master(dev, this.features);
      this.#masters.set(dev.rid, m);
    }
    return m;
  }

  /** Whether `dev` sits behind this SMMU (it was probed here). */
  owns(dev: DeviceRef): boolean {
    return this.hw.devices.get(dev.rid)?.name === dev.name;
  }

  capable(dev: DeviceRef, cap: IommuCap): boolean {
    const f = this.features;
    switch (cap) {
      case 'CACHE_COHERENCY':
        return f.coherent;
      case 'DIRTY_TRACKING':
        return this.#dbmCapable();
      case 'PCI_ATS_SUPPORTED':
        return f.ats && dev.ats;
      case 'NOEXEC':
        return true;
    }
  }

  #dbmCapable(): boolean {
    return this.features.httu === 2 && this.features.coherent;
  }

  maxPasids(dev: DeviceRef): number {
    const bits = dev.pasidBits > 0 ? Math.min(this.features.ssidBits, dev.pasidBits) : 0;
    return bits > 0 ? 2 ** bits : 0;
  }

  /** `arm_smmu_hw_info`: the raw ID registers. */
  hwInfo(_dev: DeviceRef, requestedType: number) {
    if (requestedType !== IOMMU_HW_INFO_TYPE_DEFAULT && requestedType !== IOMMU_HW_INFO_TYPE_ARM_SMMUV3)
      fail('EOPNOTSUPP', `hw_info type ${requestedType}`);
    const idr = [0, 1, 2, 3, 4, 5].map((i) => this.hw.read32(R.ARM_SMMU_IDR0 + 4 * i));
    const data = iommu_hw_info_arm_smmuv3.encode({
      flags: 0,
      __reserved: 0,
      idr,
      iidr: this.hw.read32(R.ARM_SMMU_IIDR),
      aidr: this.hw.read32(R.ARM_SMMU_AIDR),
    });
    return { type: IOMMU_HW_INFO_TYPE_ARM_SMMUV3, data };
  }

  /** `arm_smmu_get_resv_regions`: the software-managed MSI window. */
  resvRegions(_dev: DeviceRef): ResvRegion[] {
    return [{ start: R.MSI_IOVA_BASE, length: R.MSI_IOVA_LENGTH, type: 'sw-msi' }];
  }

  /** `arm_smmu_domain_alloc_paging_flags`: S1 by default, S2 for a nest parent. */
  domainAllocPaging(_dev: DeviceRef, flags: number, data: UserData | undefined): PagingDomain {
    const f = this.features;
    if (flags & ~PAGING_FLAGS) fail('EOPNOTSUPP', `paging flags 0x${flags.toString(16)}`);
    if (data) fail('EOPNOTSUPP', 'arm-smmu-v3 paging domains take no driver data');
    let stage: 's1' | 's2';
    let nestParent = false;
    switch (flags) {
      case 0:
        stage = f.s1 ? 's1' : 's2';
        break;
      case IOMMU_HWPT_ALLOC_NEST_PARENT:
        if (!(f.s1 && f.s2)) fail('EOPNOTSUPP', 'no nesting (needs both stages)');
        stage = 's2';
        nestParent = true;
        break;
      case IOMMU_HWPT_ALLOC_DIRTY_TRACKING:
      case IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID:
      case IOMMU_HWPT_ALLOC_PASID:
        if (!f.s1) fail('EOPNOTSUPP', 'no stage 1');
        stage = 's1';
        break;
      default:
        fail('EOPNOTSUPP', `paging flags 0x${flags.toString(16)}`);
    }
    const dirty = (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0;
    if (dirty && !this.#dbmCapable()) fail('EOPNOTSUPP', 'no HTTU dirty state');
    const [ids, bits] = stage === 's1' ? [this.#asids, f.asid16 ? 16 : 8] : [this.#vmids, f.vmid16 ? 16 : 8];
    const tag = this.#alloc(ids, bits);
    try {
      if (stage === 's1') return new Smmuv3PagingDomain(this, 's1', tag, 0, false, dirty);
      return new Smmuv3PagingDomain(this, 's2', 0, tag, nestParent, false);
    } catch (err) {
      ids.delete(tag); // the tag goes back when io-pgtable cannot get its root table
      throw err;
    }
  }

  /** Lowest free tag in [1, 2^bits - 1] (ASID 0 / VMID 0 stay reserved). */
  #alloc(used: Set<number>, bits: number): number {
    for (let v = 1; v < 2 ** bits; v++) {
      if (!used.has(v)) {
        used.add(v);
        return v;
      }
    }
    fail('ENOSPC', 'ASIDs/VMIDs exhausted');
  }

  releaseTag(d: Smmuv3PagingDomain): void {
    if (d.stage === 's1') this.#asids.delete(d.asid);
    else this.#vmids.delete(d.vmid);
  }

  /** Background work (domain teardown flushes) the farm should let finish. */
  track(p: Promise<void>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Resolves when every tracked background flush is done. */
  async idle(): Promise<void> {
    await this.ready;
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}

/** Linux refuses a CMDQ of ≤ CMDQ_BATCH_ENTRIES (64) entries: a full batch plus its sync must fit. */
function cmdqShift(o: Smmuv3Options, f: Smmuv3Features): number {
  return Math.max(7, Math.min(o.cmdqLog2 ?? 8, f.cmdqsMax));
}

function initQueues(phys: PhysMemory, f: Smmuv3Features, o: Smmuv3Options) {
  return [
    allocQueue(phys, Math.min(o.evtqLog2 ?? 7, f.evtqsMax), 4, R.ARM_SMMU_EVTQ_PROD, R.ARM_SMMU_EVTQ_CONS),
    f.pri
      ? allocQueue(phys, Math.min(o.priqLog2 ?? 7, f.priqsMax), 2, R.ARM_SMMU_PRIQ_PROD, R.ARM_SMMU_PRIQ_CONS)
      : undefined,
  ] as const;
}
