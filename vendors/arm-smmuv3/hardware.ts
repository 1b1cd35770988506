import type { AnyActorLogic, AnyActorRef } from 'xstate';
import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { PhysAccessError } from '../../actors/mem/phys-memory.ts';
import { EventFd } from '../../actors/runtime/eventfd.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import type { Tracer } from '../../actors/runtime/trace.ts';
import type { DeviceAtc } from '../atc.ts';
import type { DmaRequest, IommuHardware, TranslateResult } from '../hardware.ts';
import {
  CMDQ_PRI_1_RESP_SUCC,
  CMDQ_SYNC_0_CS_IRQ,
  CMDQ_SYNC_0_CS_SEV,
  type Cmd,
  type CmdCheckContext,
} from './cmd.ts';
import { ConfigCache } from './config-cache.ts';
import {
  EVT_NAMES,
  EVTQ_ENT_BYTES,
  type EventRecord,
  encodeEvent,
  encodePri,
  PRIQ_ENT_BYTES,
  type PriRequest,
} from './event.ts';
import {
  buildIdRegisters,
  type IdRegisters,
  parseFeatures,
  type Smmuv3Features,
  type Smmuv3Options,
} from './features.ts';
import { CmdqEngine } from './hw-cmdq.ts';
import {
  type CommandTarget,
  executeCmd,
  type PriResponse,
  priRespond,
  type SmmuDevicePort,
} from './hw-commands.ts';
import { mmioRead32, mmioRead64, mmioWrite32, mmioWrite64 } from './hw-mmio.ts';
import { Iotlb } from './iotlb.ts';
import { OutQueue } from './out-queue.ts';
import * as R from './regs.ts';
import type { ResolveEnv } from './resolve.ts';
import { s2Lookup } from './stage2.ts';
import { smmuTranslate, type TranslateHost } from './translate.ts';

/** Hardware-side fault injection (devices misbehaving), settable at runtime. */
export interface Smmuv3HwFaults {
  /** Devices drop ATC invalidation completions: every ATC_INV times out. */
  atcNoResponse: boolean;
}

export interface Smmuv3HwContext {
  readonly name: string;
  readonly phys: PhysMemory;
  readonly scheduler: Scheduler;
  readonly tracer: Tracer;
  readonly options: Smmuv3Options;
  spawn(id: string, logic: AnyActorLogic, input: unknown): AnyActorRef;
}

/**
 * One SMMUv3: its register file, configuration cache, TLB, command queue consumer and the
 * EVTQ/PRIQ producers. Every structure it uses (stream table, CDs, page tables, rings) is read
 * from physical memory at the addresses software programmed.
 */
export class Smmuv3Hardware implements IommuHardware, TranslateHost, CommandTarget {
  readonly vendor = 'arm-smmuv3' as const;
  readonly name: string;
  readonly phys: PhysMemory;
  readonly scheduler: Scheduler;
  readonly tracer: Tracer;
  readonly idRegs: IdRegisters;
  readonly features: Smmuv3Features;
  readonly iotlb: Iotlb;
  readonly cache = new ConfigCache();
  readonly env: ResolveEnv;
  readonly cmdq: CmdqEngine;
  readonly evtq: OutQueue;
  readonly priq: OutQueue;
  readonly irq: {
    readonly gerror: EventFd;
    readonly evtq: EventFd;
    readonly priq: EventFd;
    /** CMD_SYNC with CS=SIG_IRQ completed (its MSI was written). */
    readonly cmdqSync: EventFd;
    /** CMD_SYNC with CS=SIG_SEV completed (a WFE wake-up). */
    readonly sev: EventFd;
  };
  readonly devices = new Map<number, SmmuDevicePort>();
  readonly stalls = new Map<number, Set<number>>();
  readonly priResponses: PriResponse[] = [];
  readonly faults: Smmuv3HwFaults = { atcNoResponse: false };
  readonly checkCtx: CmdCheckContext;
  readonly cmdNs: number;
  readonly atcLatencyNs: number;
  readonly atcTimeoutNs: number;
  readonly strictTtl: boolean;
  /** The kernel's probe_device for a device appearing behind this SMMU. */
  onProbe: ((sid: number) => void) | undefined;

  cr0 = 0;
  cr0ack = 0;
  cr1 = 0;
  cr2 = 0;
  gbpa = R.GBPA_ABORT;
  irqCtrl = 0;
  gerror = 0;
  gerrorn = 0;
  strtabBase = 0n;
  strtabBaseCfg = 0;
  readonly irqCfg = new Map<number, bigint>();
  readonly #atsEnabled = new Set<number>();
  #nextStag = 0;

  constructor(ctx: Smmuv3HwContext) {
    this.name = ctx.name;
    this.phys = ctx.phys;
    this.scheduler = ctx.scheduler;
    this.tracer = ctx.tracer;
    const o = ctx.options;
    this.idRegs = buildIdRegisters(o);
    const f = parseFeatures(this.idRegs);
    this.features = f;
    this.cmdNs = o.cmdNs ?? 20;
    this.atcLatencyNs = o.atcLatencyNs ?? 200;
    this.atcTimeoutNs = o.atcTimeoutNs ?? 100_000;
    this.strictTtl = o.strictTtl ?? true;
    this.iotlb = new Iotlb(o.iotlbCapacity ?? 4096);
    this.checkCtx = {
      sidBits: f.sidBits,
      ssidBits: f.ssidBits,
      ril: f.ril,
      hyp: f.hyp,
      s2: f.s2,
      ats: f.ats,
      pri: f.pri,
    };
    const defer = (fn: () => void) => void this.scheduler.setTimer(0, fn);
    this.irq = {
      gerror: new EventFd(`${this.name}/gerror`, defer),
      evtq: new EventFd(`${this.name}/evtq`, defer),
      priq: new EventFd(`${this.name}/priq`, defer),
      cmdqSync: new EventFd(`${this.name}/cmdq-sync`, defer),
      sev: new EventFd(`${this.name}/sev`, defer),
    };
    this.evtq = new OutQueue(this.phys, 'evtq', EVTQ_ENT_BYTES, f.evtqsMax, this.irq.evtq, () =>
      this.raiseGerror(R.GERROR_EVTQ_ABT_ERR),
    );
    this.priq = new OutQueue(this.phys, 'priq', PRIQ_ENT_BYTES, f.priqsMax, this.irq.priq, () =>
      this.raiseGerror(R.GERROR_PRIQ_ABT_ERR),
    );
    const self = this;
    this.env = {
      features: f,
      cache: this.cache,
      iotlb: this.iotlb,
      get strtabBase() {
        return self.strtabBase;
      },
      get strtabBaseCfg() {
        return self.strtabBaseCfg;
      },
      read: (pa) => self.#readU64(pa),
      s2: s2Lookup(this.phys),
    };
    this.cmdq = new CmdqEngine(
      {
        name: this.name,
        phys: this.phys,
        scheduler: this.scheduler,
        tracer: this.tracer,
        checkCtx: this.checkCtx,
        cmdNs: this.cmdNs,
        maxLog2: f.cmdqsMax,
        execute: (cmd) => executeCmd(this, cmd),
        completeSync: (cmd, at) => this.#completeSync(cmd, at),
      },
      (logic) => ctx.spawn(`${this.name}/cmdq`, logic, { name: `${this.name}/cmdq` }),
      () => this.raiseGerror(R.GERROR_CMDQ_ERR),
    );
  }

  get smmuEnabled(): boolean {
    return (this.cr0 & R.CR0_SMMUEN) !== 0;
  }

  get gbpaAbort(): boolean {
    return (this.gbpa & R.GBPA_ABORT) !== 0;
  }

  now(): number {
    return this.scheduler.now;
  }

  translate(req: DmaRequest): TranslateResult {
    return smmuTranslate(this, req);
  }

  atsTranslate(req: DmaRequest): TranslateResult | undefined {
    if (!this.#atsEnabled.has(req.rid)) return undefined;
    return smmuTranslate(this, req, true);
  }

  registerDevice(rid: number, dev: { readonly name: string; readonly atc: DeviceAtc | undefined }): void {
    this.devices.set(rid, dev);
    this.onProbe?.(rid);
  }

  /** The device's PCI ATS capability Enable bit (pci_enable_ats / pci_disable_ats). */
  setPciAts(rid: number, on: boolean): void {
    if (on) this.#atsEnabled.add(rid);
    else this.#atsEnabled.delete(rid);
  }

  pciAtsEnabled(rid: number): boolean {
    return this.#atsEnabled.has(rid);
  }

  read32(off: number): number {
    return mmioRead32(this, off);
  }

  write32(off: number, v: number): void {
    mmioWrite32(this, off, v);
  }

  read64(off: number): bigint {
    return mmioRead64(this, off);
  }

  write64(off: number, v: bigint): void {
    mmioWrite64(this, off, v);
  }

  writeCr0(v: number): void {
    this.cr0 = v;
    this.cmdq.setEnabled((v & R.CR0_CMDQEN) !== 0);
    this.evtq.enabled = (v & R.CR0_EVTQEN) !== 0;
    this.priq.enabled = (v & R.CR0_PRIQEN) !== 0;
    this.cr0ack = v;
  }

  writeGerrorn(v: number): void {
    const before = this.gerror ^ this.gerrorn;
    this.gerrorn = (v & R.GERROR_ERR_MASK) >>> 0;
    const after = this.gerror ^ this.gerrorn;
    if (before & R.GERROR_CMDQ_ERR && !(after & R.GERROR_CMDQ_ERR)) this.cmdq.ack();
  }

  /** Toggles GERROR bits that are not already active, and interrupts. */
  raiseGerror(bits: number): void {
    const toggle = bits & ~(this.gerror ^ this.gerrorn);
    if (!toggle) return;
    this.gerror = (this.gerror ^ toggle) >>> 0;
    if (this.irqCtrl & R.IRQ_CTRL_GERROR_IRQEN) this.irq.gerror.write(1n);
  }

  reportEvent(rec: Partial<EventRecord>, stall: boolean): number | undefined {
    let stag: number | undefined;
    let record = rec;
    if (stall) {
      stag = this.#nextStag;
      this.#nextStag = (this.#nextStag + 1) & 0xffff;
      const sid = rec.sid ?? 0;
      let set = this.stalls.get(sid);
      if (!set) this.stalls.set(sid, (set = new Set()));
      set.add(stag);
      record = { ...rec, stall: true, stag };
    }
    const outcome = this.evtq.push(encodeEvent(record));
    if (this.tracer.on) {
      this.tracer.emit({
        type: 'fault',
        t: this.now(),
        iommu: this.name,
        ...(this.devices.get(rec.sid ?? 0) ? { device: this.devices.get(rec.sid ?? 0)!.name } : {}),
        reason: EVT_NAMES[rec.id ?? 0] ?? 'event',
        detail: `evtq ${outcome}`,
      });
    }
    return stag;
  }

  /**
   * A PCIe Page Request from a device: one PRIQ entry. When the PRIQ overflows the request is
   * lost, and a lost last-in-group request is answered Success by the SMMU itself so the
   * device retries rather than waiting forever [spec].
   */
  pageRequest(p: PriRequest): 'written' | 'overflow' | 'disabled' | 'abort' {
    const out = this.priq.push(encodePri(p));
    if (out === 'overflow' && p.last) {
      priRespond(this, p.sid, p.ssidValid ? p.ssid : undefined, p.grpid, CMDQ_PRI_1_RESP_SUCC, true);
    }
    return out;
  }

  get atcNoResponse(): boolean {
    return this.faults.atcNoResponse;
  }

  #completeSync(cmd: Cmd, _at: bigint): void {
    if (cmd.cs === CMDQ_SYNC_0_CS_IRQ) {
      try {
        this.phys.writeU32(cmd.msiaddr ?? 0n, cmd.msidata ?? 0);
      } catch (err) {
        if (!(err instanceof PhysAccessError)) throw err;
        this.raiseGerror(R.GERROR_MSI_CMDQ_ABT_ERR);
      }
      this.irq.cmdqSync.write(1n);
    } else if (cmd.cs === CMDQ_SYNC_0_CS_SEV) this.irq.sev.write(1n);
  }

  #readU64(pa: bigint): bigint | undefined {
    try {
      return this.phys.readU64(pa);
    } catch (err) {
      if (err instanceof PhysAccessError) return undefined;
      throw err;
    }
  }
}
