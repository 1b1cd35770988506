import { type Observable, Subject } from 'rxjs';
import { cmdqMachine } from '../../machines/cmdq.machine.ts';
import type { DeviceAtc } from '../atc.ts';
import type { DmaRequest, IommuHardware, TranslateResult } from '../hardware.ts';
import type { VendorContext } from '../registry.ts';
import { atsRange, psiRange, QI_RESP_INVALID, QI_RESP_SUCCESS, type QiDesc } from './descriptors.ts';
import { FR } from './fault-reasons.ts';
import { FaultRecorder } from './fault-recording.ts';
import { Iotlb } from './iotlb.ts';
import { type PageRequest, PageRequestQueue } from './prq.ts';
import { type AtcDesc, InvalidationQueue } from './qi.ts';
import { VtdRegisters } from './register-file.ts';
import { capReg, capSagaw, ecapReg, type VtdFeatures } from './regs.ts';
import { Translator } from './translate.ts';
import { fetchContext, isConfigFault } from './walk-config.ts';

export interface VtdTiming {
  /** Per descriptor fetched by the invalidation queue. */
  readonly descNs: number;
  /** One way, IOMMU ↔ device, for ATC invalidations and page responses. */
  readonly linkNs: number;
  /** A device-TLB invalidation outstanding this long sets ITE. */
  readonly atcTimeoutNs: number;
}

export const DEFAULT_TIMING: VtdTiming = { descNs: 50, linkNs: 500, atcTimeoutNs: 100_000 };

/** A page group response as it reaches the device. `auto`: the IOMMU answered for an overflowed queue. */
export interface PageResponse {
  readonly rid: number;
  readonly pasid: number | undefined;
  readonly prgIndex: number;
  readonly code: number;
  readonly auto: boolean;
}

interface Endpoint {
  readonly name: string;
  readonly atc: DeviceAtc | undefined;
}

/**
 * One VT-d remapping unit in scalable mode: its register file, the caches (context, PASID,
 * IOTLB), the invalidation queue (an XState actor gets its summaries), the fault recording
 * registers and the page request queue. `translate` is the DMA hot path.
 */
export class VtdHardware implements IommuHardware {
  readonly vendor = 'intel-vtd' as const;
  readonly name: string;
  readonly cap: bigint;
  readonly ecap: bigint;
  readonly iotlb: Iotlb;
  readonly translator: Translator;
  readonly faults: FaultRecorder;
  readonly qi: InvalidationQueue;
  readonly prq: PageRequestQueue;
  readonly regs: VtdRegisters;
  /** Requesters behind this unit, by SID. */
  readonly devices = new Map<number, Endpoint>();
  /** SIDs whose device never completes ATC invalidations (drives ITE). */
  readonly atcUnresponsive = new Set<number>();
  readonly #responses = new Subject<PageResponse>();
  readonly pageResponses$: Observable<PageResponse> = this.#responses.asObservable();

  constructor(
    private readonly ctx: VendorContext,
    readonly features: VtdFeatures,
    readonly timing: VtdTiming = DEFAULT_TIMING,
    iotlbEntries = 4096,
  ) {
    this.name = ctx.name;
    this.cap = capReg(features);
    this.ecap = ecapReg(features);
    const defer = (fn: () => void) => void ctx.scheduler.setTimer(0, fn);
    this.faults = new FaultRecorder(features.nfr, defer, ctx.name);
    this.iotlb = new Iotlb(iotlbEntries);
    this.translator = new Translator(
      ctx.phys,
      {
        sagaw: capSagaw(this.cap),
        fsts: features.fsts,
        ssts: true,
        nest: features.nest,
        pt: true,
        fs5lp: false,
        sllps: features.sllps,
        fs1gp: features.fs1gp,
      },
      this.iotlb,
      this.faults,
      () => ctx.scheduler.now,
      ctx.name,
    );
    const actor = ctx.spawn(
      `${ctx.name}/qi`,
      cmdqMachine.provide({
        actions: {
          signalError: ({ event }) => {
            if (event.type !== 'ERROR' || !ctx.tracer.on) return;
            ctx.tracer.emit({ type: 'fault', t: ctx.scheduler.now, iommu: ctx.name, reason: event.code });
          },
        },
      }),
      { name: `${ctx.name}/qi` },
    );
    this.qi = new InvalidationQueue(
      ctx.phys,
      ctx.scheduler,
      actor,
      {
        execute: (d) => this.#execute(d),
        sendAtcInvalidation: (d, done) => this.#sendAtc(d, done),
        trace: (opcode, detail) => {
          if (ctx.tracer.on)
            ctx.tracer.emit({ type: 'cmd', t: ctx.scheduler.now, queue: `${ctx.name}/qi`, opcode, detail });
        },
      },
      timing,
      ctx.name,
    );
    this.prq = new PageRequestQueue(ctx.phys, defer, ctx.name, (r) =>
      this.#respond(r, QI_RESP_SUCCESS, true),
    );
    this.regs = new VtdRegisters(this);
  }

  translate(req: DmaRequest): TranslateResult {
    return this.translator.translate(req, false)!;
  }

  atsTranslate(req: DmaRequest): TranslateResult | undefined {
    if (!this.devices.get(req.rid)?.atc) return undefined;
    return this.translator.translate(req, true);
  }

  registerDevice(rid: number, dev: { readonly name: string; readonly atc: DeviceAtc | undefined }): void {
    this.devices.set(rid, { name: dev.name, atc: dev.atc });
  }

  /**
   * A PCIe Page Request from `rid`. It needs a present context entry with PRE set (else fault
   * 0x47 and, for the last request of a group, an Invalid response); then it joins the PRQ.
   */
  pageRequest(r: PageRequest): boolean {
    const t = this.translator;
    const ctxe = t.enabled && t.ttm === 1 ? fetchContext(this.ctx.phys, t.rootTable, r.rid) : undefined;
    if (!this.features.prs || !ctxe || isConfigFault(ctxe) || !ctxe.pre) {
      if (!ctxe?.fpd)
        this.faults.record({ fr: FR.CTX_PRE, sid: r.rid, pasid: r.pasid, addr: r.addr, write: r.write });
      if (r.lpig && (r.read || r.write)) this.#respond(r, QI_RESP_INVALID, true);
      return false;
    }
    return this.prq.request(r);
  }

  /** Applies context/PASID-cache and IOTLB invalidations, and delivers page group responses. */
  #execute(d: QiDesc): void {
    const t = this.translator;
    switch (d.type) {
      case 'cc':
        if (d.g === 3) {
          // FM masks the top 1, 2 or 3 bits of the function number.
          const masked = d.fm === 0 ? 0 : (0b111 << (3 - d.fm)) & 0b111;
          const cmp = 0xffff & ~masked;
          for (const sid of [...t.contextCache.keys()])
            if ((sid & cmp) === (d.sid & cmp)) t.contextCache.delete(sid);
        } else t.contextCache.clear();
        return;
      case 'pc':
        for (const [key, pc] of [...t.pasidCache]) {
          const pasid = key % 0x10_0000;
          if (d.g === 3 || (pc.pe.did === d.did && (d.g === 0 || pasid === d.pasid)))
            t.pasidCache.delete(key);
        }
        return;
      case 'iotlb':
        if (d.g === 1) this.iotlb.invalidateAll();
        else this.iotlb.invalidateDomain(d.did, d.g === 3 ? psiRange(d.addr, d.am) : undefined);
        return;
      case 'p_iotlb':
        this.iotlb.invalidatePasid(d.did, d.pasid, d.g === 3 ? psiRange(d.addr, d.am) : undefined);
        return;
      case 'pgrp_resp':
        this.#respond(
          { rid: d.rid, pasid: d.pasidPresent ? d.pasid : undefined, prgIndex: d.prgIndex },
          d.code,
          false,
        );
        return;
      default:
        return; // iec: no interrupt remapping in this model
    }
  }

  #sendAtc(d: AtcDesc, done: () => void): boolean {
    const dev = this.devices.get(d.sid);
    const atc = dev?.atc;
    if (!dev || !atc) return false;
    const { start, size } = atsRange(d.addr, d.s);
    const pasid = d.type === 'dev_tlb' ? undefined : d.global ? 'all' : d.pasid;
    const sched = this.ctx.scheduler;
    sched.post(
      `${this.name}->${dev.name}`,
      'ats.inv',
      () => {
        atc.invalidate(pasid, start, size);
        if (this.atcUnresponsive.has(d.sid)) return;
        sched.post(`${dev.name}->${this.name}`, 'ats.inv.cpl', done, this.timing.linkNs);
      },
      this.timing.linkNs,
    );
    return true;
  }

  #respond(r: Pick<PageRequest, 'rid' | 'pasid' | 'prgIndex'>, code: number, auto: boolean): void {
    const dev = this.devices.get(r.rid);
    const resp: PageResponse = { rid: r.rid, pasid: r.pasid, prgIndex: r.prgIndex, code, auto };
    this.ctx.scheduler.post(
      `${this.name}->${dev?.name ?? r.rid.toString(16)}`,
      'prg.resp',
      () => this.#responses.next(resp),
      this.timing.linkNs,
    );
  }
}
