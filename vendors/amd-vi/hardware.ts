import { Subject } from 'rxjs';
import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { EventFd } from '../../actors/runtime/eventfd.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import type { Tracer } from '../../actors/runtime/trace.ts';
import type { CmdqEvent } from '../../machines/cmdq.machine.ts';
import type { DeviceAtc } from '../atc.ts';
import type { DmaRequest, IommuHardware, TranslateResult } from '../hardware.ts';
import { CmdBuffer } from './cmd-buffer.ts';
import { DteCache } from './dte-cache.ts';
import { type AmdEvent, EVENT_NAMES, EVENT_SIZE, encodeEvent } from './events.ts';
import { commandEffects } from './hw-effects.ts';
import { Iotlb } from './iotlb.ts';
import { loadDte } from './load-dte.ts';
import { LogRing } from './log-ring.ts';
import { type PageRequest, type PageResponse, PprPort } from './ppr-port.ts';
import * as R from './regs.ts';
import { type DteState, Translator } from './translate.ts';

export interface AmdViHwOptions {
  readonly name: string;
  readonly efr: bigint;
  readonly efr2: bigint;
  /** Virtual time per command. */
  readonly cmdNs: number;
  /** One-way fabric latency to a device (ATS invalidations, PRG responses). */
  readonly linkNs: number;
  readonly iotlbEntries: number;
}

/** How a device answers ATS invalidations (a test knob: a slow or dead device). */
export interface AtcBehaviour {
  readonly drop?: boolean;
  readonly delayNs?: number;
}

interface Endpoint {
  readonly name: string;
  readonly atc: DeviceAtc | undefined;
}

/**
 * One AMD-Vi IOMMU: MMIO registers, the device table walk with its DTE cache, the IOTLB, the
 * command buffer, the event and PPR logs, and the MSI as eventfds. Software reaches it only
 * through `readReg`/`writeReg` and the memory it points the registers at.
 */
export class AmdViHardware implements IommuHardware {
  readonly vendor = 'amd-vi' as const;
  readonly name: string;
  readonly efr: bigint;
  readonly efr2: bigint;
  readonly iotlb: Iotlb;
  readonly cmd: CmdBuffer;
  readonly eventLog: LogRing;
  readonly pprLog: LogRing;
  /** COMPLETION_WAIT with I=1 while ComWaitIntEn. */
  readonly completionIrq: EventFd;
  /** Event log and PPR log interrupts (EventIntEn / PprIntEn). */
  readonly eventIrq: EventFd;
  readonly pageResponses$ = new Subject<PageResponse>();
  readonly atcBehaviour = new Map<number, AtcBehaviour>();
  /** The DTE cache, indexed by DeviceID. */
  readonly dteCache = new DteCache();
  #control = 0n;
  /** CONTROL.IommuEn, as a boolean for the hot path. */
  #on = false;
  #devTab = 0n;
  #status = 0n;
  readonly #devices = new Map<number, Endpoint>();
  readonly #translator: Translator;
  readonly #ppr: PprPort;

  constructor(
    readonly phys: PhysMemory,
    private readonly scheduler: Scheduler,
    private readonly tracer: Tracer,
    cmdq: { send(e: CmdqEvent): void },
    readonly opts: AmdViHwOptions,
  ) {
    this.name = opts.name;
    this.efr = opts.efr;
    this.efr2 = opts.efr2;
    this.iotlb = new Iotlb(opts.iotlbEntries);
    const defer = (fn: () => void) => scheduler.post(`${this.name}->cpu`, 'msi', fn);
    this.completionIrq = new EventFd(`${this.name}/comwait`, defer);
    this.eventIrq = new EventFd(`${this.name}/event`, defer);
    this.eventLog = new LogRing(phys);
    this.pprLog = new LogRing(phys);
    this.cmd = new CmdBuffer(phys, scheduler, commandEffects(this, scheduler, opts.linkNs), cmdq, {
      name: `${this.name}/cmdq`,
      cmdNs: opts.cmdNs,
      tracer,
    });
    this.#translator = new Translator({
      name: this.name,
      phys,
      iotlb: this.iotlb,
      dte: (devid) => this.dte(devid),
      gcr3TrpMode: () => (this.#control & R.CONTROL_GCR3TRPMODE) !== 0n,
      logEvent: (e) => this.logEvent(e),
      now: () => scheduler.now,
    });
    this.#ppr = new PprPort(this, scheduler, opts.linkNs);
  }

  get control(): bigint {
    return this.#control;
  }

  translate(req: DmaRequest): TranslateResult {
    if (!this.#on) return { ok: true, pa: req.iova, pageSize: 4096n, cached: false };
    return this.#translator.translate(req, false)!;
  }

  atsTranslate(req: DmaRequest): TranslateResult | undefined {
    if (!this.#on) return undefined;
    return this.#translator.translate(req, true);
  }

  registerDevice(rid: number, dev: Endpoint): void {
    this.#devices.set(rid, dev);
  }

  endpoint(rid: number): Endpoint | undefined {
    return this.#devices.get(rid);
  }

  /** A PCIe Page Request from the device `rid` (PRI): logged in the PPR log for software. */
  pageRequest(rid: number, req: PageRequest): void {
    this.#ppr.request(rid, req);
  }

  /** The DTE of `devid` as the IOMMU uses it: from the DTE cache, else read from the device table. */
  dte(devid: number): DteState {
    const hit = this.dteCache.get(devid);
    if (hit) return hit;
    const st = loadDte(this.phys, this.#devTab, devid, this.efr);
    if (st.kind === 'ok') this.dteCache.set(devid, st);
    return st;
  }

  readReg(off: number): bigint {
    switch (off) {
      case R.MMIO_DEV_TABLE:
        return this.#devTab;
      case R.MMIO_CMD_BUF:
        return this.cmd.baseReg();
      case R.MMIO_EVT_BUF:
        return this.eventLog.baseReg();
      case R.MMIO_PPR_LOG:
        return this.pprLog.baseReg();
      case R.MMIO_CONTROL:
        return this.#control;
      case R.MMIO_EXT_FEATURES:
        return this.efr;
      case R.MMIO_EXT_FEATURES2:
        return this.efr2;
      case R.MMIO_CMD_HEAD:
        return BigInt(this.cmd.head);
      case R.MMIO_CMD_TAIL:
        return BigInt(this.cmd.tail);
      case R.MMIO_EVT_HEAD:
        return BigInt(this.eventLog.head);
      case R.MMIO_EVT_TAIL:
        return BigInt(this.eventLog.tail);
      case R.MMIO_PPR_HEAD:
        return BigInt(this.pprLog.head);
      case R.MMIO_PPR_TAIL:
        return BigInt(this.pprLog.tail);
      case R.MMIO_STATUS:
        return this.status();
      default:
        return 0n;
    }
  }

  status(): bigint {
    let s = this.#status;
    if (this.eventLog.running) s |= R.STATUS_EVT_RUN;
    if (this.cmd.running) s |= R.STATUS_CMDBUF_RUN;
    if (this.pprLog.running) s |= R.STATUS_PPR_RUN;
    return s;
  }

  writeReg(off: number, value: bigint): void {
    switch (off) {
      case R.MMIO_DEV_TABLE:
        this.#devTab = value;
        return;
      case R.MMIO_CMD_BUF:
        if (!this.cmd.enabled) this.cmd.setBaseReg(value);
        return;
      case R.MMIO_EVT_BUF:
        if (!this.eventLog.enabled) this.eventLog.setBaseReg(value);
        return;
      case R.MMIO_PPR_LOG:
        if (!this.pprLog.enabled) this.pprLog.setBaseReg(value);
        return;
      case R.MMIO_CONTROL:
        this.#control = value;
        this.#on = (value & R.CONTROL_IOMMU_EN) !== 0n;
        this.eventLog.setEnabled((value & R.CONTROL_EVT_LOG_EN) !== 0n);
        this.pprLog.setEnabled((value & R.CONTROL_PPRLOG_EN) !== 0n);
        this.cmd.setEnabled((value & R.CONTROL_CMDBUF_EN) !== 0n);
        return;
      case R.MMIO_CMD_HEAD:
        this.cmd.writeHead(value);
        return;
      case R.MMIO_CMD_TAIL:
        this.cmd.writeTail(value);
        return;
      case R.MMIO_EVT_HEAD:
        this.eventLog.head = this.eventLog.offset(value);
        return;
      case R.MMIO_EVT_TAIL:
        if (!this.eventLog.enabled) this.eventLog.tail = this.eventLog.offset(value);
        return;
      case R.MMIO_PPR_HEAD:
        this.pprLog.head = this.pprLog.offset(value);
        return;
      case R.MMIO_PPR_TAIL:
        if (!this.pprLog.enabled) this.pprLog.tail = this.pprLog.offset(value);
        return;
      case R.MMIO_STATUS: {
        const clear = value & R.STATUS_W1C;
        this.#status &= ~clear;
        if (clear & R.STATUS_EVT_OVERFLOW) this.eventLog.overflow = false;
        if (clear & R.STATUS_PPR_OVERFLOW) this.pprLog.overflow = false;
        return;
      }
      default:
        return;
    }
  }

  /** Appends to the event log; sets EventInt (or EventOverflow) and signals the MSI. */
  logEvent(e: AmdEvent): void {
    const bytes = new Uint8Array(EVENT_SIZE);
    const v = new DataView(bytes.buffer);
    const words = encodeEvent(e);
    for (let i = 0; i < 4; i++) v.setUint32(i * 4, words[i]!, true);
    const r = this.eventLog.append(bytes);
    if (this.tracer.on) {
      const detail = `devid=0x${e.devid.toString(16)} tag=0x${e.tag.toString(16)} flags=0x${e.flags.toString(16)} address=0x${e.address.toString(16)} ${r}`;
      this.tracer.emit({
        type: 'fault',
        t: this.scheduler.now,
        iommu: this.name,
        reason: EVENT_NAMES[e.type] ?? 'EVENT',
        detail,
      });
    }
    if (r === 'stopped') return;
    this.#raise(r === 'ok' ? R.STATUS_EVT_INT : R.STATUS_EVT_OVERFLOW, R.CONTROL_EVT_INT_EN, this.eventIrq);
  }

  /** Sets a status bit and, when its enable is on, writes the interrupt eventfd. */
  raisePpr(overflow: boolean): void {
    this.#raise(overflow ? R.STATUS_PPR_OVERFLOW : R.STATUS_PPR_INT, R.CONTROL_PPRINT_EN, this.eventIrq);
  }

  #raise(bit: bigint, enable: bigint, irq: EventFd): void {
    this.#status |= bit;
    if (this.#control & enable) irq.write(1n);
  }

  raiseComWait(): void {
    this.#raise(R.STATUS_COM_WAIT_INT, R.CONTROL_COMWAIT_EN, this.completionIrq);
  }

  /** CONTROL.InvTimeOut in ns (0: wait forever). */
  invTimeoutNs(): number {
    return R.INV_TIMEOUT_NS[
      Number((this.#control & R.CONTROL_INV_TIMEOUT_MASK) >> R.CONTROL_INV_TIMEOUT_SHIFT)
    ]!;
  }

  /** COMPLETE_PPR_REQUEST: the PRG response to the device. */
  respondPpr(devid: number, pasid: number | undefined, status: number, tag: number): void {
    this.#ppr.respond(devid, pasid, status, tag);
  }
}
