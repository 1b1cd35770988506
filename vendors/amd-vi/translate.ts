import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { DmaFault, DmaRequest, TranslateResult } from '../hardware.ts';
import type { Dte } from './dte.ts';
import {
  type AmdEvent,
  EVENT_DEV_TAB_HW_ERROR,
  EVENT_FLAG_GN,
  EVENT_FLAG_NX,
  EVENT_FLAG_PE,
  EVENT_FLAG_PR,
  EVENT_FLAG_RW,
  EVENT_FLAG_RZ,
  EVENT_FLAG_TR,
  EVENT_FLAG_US,
  EVENT_ILLEGAL_DEV_TABLE_ENTRY,
  EVENT_IO_PAGE_FAULT,
  EVENT_NAMES,
  EVENT_PAGE_TAB_HW_ERROR,
} from './events.ts';
import { HOST, type Iotlb, type IotlbEntry } from './iotlb.ts';
import { PTE_HA, PTE_HD } from './v1-pte.ts';
import { type V1Miss, walkV1 } from './v1-walk.ts';
import { type GpaToSpa, type V2Miss, walkGcr3, walkV2 } from './v2-walk.ts';

/** A DTE as the IOMMU holds it: decoded, or why it cannot be used. */
export type DteState =
  | { readonly kind: 'ok'; readonly dte: Dte }
  | { readonly kind: 'illegal'; readonly rz: boolean }
  | { readonly kind: 'hw-error'; readonly at: bigint };

/** What the translation engine needs from the IOMMU around it. */
export interface TranslatorHost {
  readonly name: string;
  readonly phys: PhysMemory;
  readonly iotlb: Iotlb;
  /** The DTE of `devid`, from the DTE cache or the device table (filling the cache). */
  dte(devid: number): DteState;
  /** CONTROL.GCR3TRPMode: DTE GCR3 roots are GPAs, translated by the host table. */
  gcr3TrpMode(): boolean;
  logEvent(e: AmdEvent): void;
  now(): number;
}

const PAGE = 4096n;
const IDENTITY: GpaToSpa = (gpa) => ({ ok: true, spa: gpa, log2Size: 52, read: true, write: true });

type Reason = DmaFault['reason'];

const SAFE = 2 ** 53;

/** The 4 KiB frame number of an IOVA; a double division when the IOVA fits one exactly. */
function frameOf(iova: bigint): number {
  const n = Number(iova);
  return n < SAFE ? Math.floor(n / 4096) : Number(iova >> 12n);
}

/**
 * The DMA path of one AMD-Vi IOMMU: DTE (cached) → IOTLB tagged (DomainID[, PASID]) → on a miss
 * the walk of the host v1 table, or of the GCR3 table and the guest v2 table with every fetch
 * through the host stage. A hit is a Map lookup and a permission check; no machine event.
 */
export class Translator {
  constructor(private readonly host: TranslatorHost) {}

  /** `tr`: an ATS Translation Request; undefined when the DTE does not enable ATS (I=0). */
  translate(req: DmaRequest, tr: boolean): TranslateResult | undefined {
    const st = this.host.dte(req.rid);
    if (st.kind === 'illegal') {
      const flags = st.rz ? EVENT_FLAG_RZ : 0;
      return this.#fault(req, tr, 'bad-config', EVENT_ILLEGAL_DEV_TABLE_ENTRY, flags, 0, req.iova);
    }
    if (st.kind === 'hw-error')
      return this.#fault(req, tr, 'bad-config', EVENT_DEV_TAB_HW_ERROR, 0, 0, st.at);
    const d = st.dte;
    if (tr && !(d.v && d.tv && d.ats)) return undefined;
    // V=0: the IOMMU neither translates nor checks (Linux never leaves a DTE so) [spec].
    if (!d.v) return { ok: true, pa: req.iova, pageSize: PAGE, cached: false };
    if (!d.tv) return this.#fault(req, tr, 'blocked', EVENT_IO_PAGE_FAULT, 0, d.domainId, req.iova);
    if (req.pasid === undefined && !(d.gv && d.giov)) return this.#host(req, d, tr);
    if (!d.gv)
      return this.#fault(req, tr, 'blocked', EVENT_IO_PAGE_FAULT, EVENT_FLAG_GN, req.pasid!, req.iova);
    return this.#guest(req, d, req.pasid ?? 0, tr);
  }

  #host(req: DmaRequest, d: Dte, tr: boolean): TranslateResult {
    if (d.mode === 0) {
      // No host table: IR/IW alone decide (Linux's blocked DTE has both clear).
      if (req.write ? d.iw : d.ir) return { ok: true, pa: req.iova, pageSize: PAGE, cached: false };
      return this.#fault(req, tr, 'blocked', EVENT_IO_PAGE_FAULT, 0, d.domainId, req.iova);
    }
    const frame = frameOf(req.iova);
    let e = this.host.iotlb.lookup(d.domainId, HOST, frame);
    const cached = e !== undefined;
    if (!e) {
      const w = walkV1(this.host.phys, d.hostRoot, d.mode, req.iova);
      if (!w.ok) return this.#v1Fault(req, tr, w, d.domainId, 0);
      if (d.had) this.#setBits(w.ptePa, PTE_HA);
      e = this.#entry(w.pa, w.log2Size, w.read, w.write, true, false, w.ptePa);
      this.host.iotlb.fill(d.domainId, HOST, frame, e);
    }
    const allowed = req.write ? d.iw && e.write : d.ir && e.read;
    if (!allowed) return this.#denied(req, tr, 0, d.domainId);
    if (req.write && d.had === 3 && !e.dirtySet && e.ptePa !== undefined) {
      this.#setBits(e.ptePa, PTE_HD | PTE_HA);
      e.dirtySet = true;
    }
    return { ok: true, pa: e.pa + (req.iova & e.mask), pageSize: e.pageSize, cached };
  }

  #guest(req: DmaRequest, d: Dte, pasid: number, tr: boolean): TranslateResult {
    const frame = frameOf(req.iova);
    let e = this.host.iotlb.lookup(d.domainId, pasid, frame);
    const cached = e !== undefined;
    if (!e) {
      const filled = this.#guestWalk(req, d, pasid, tr);
      if (!('log2Size' in filled)) return filled;
      e = filled;
      this.host.iotlb.fill(d.domainId, pasid, frame, e);
    }
    if (!(req.write ? e.write : e.read)) return this.#denied(req, tr, EVENT_FLAG_GN, pasid);
    if (!req.priv && !e.user) return this.#denied(req, tr, EVENT_FLAG_GN | EVENT_FLAG_US, pasid);
    if (req.exec && e.nx) return this.#denied(req, tr, EVENT_FLAG_GN | EVENT_FLAG_NX, pasid);
    return { ok: true, pa: e.pa + (req.iova & e.mask), pageSize: e.pageSize, cached };
  }

  /** GCR3 table → guest CR3 → v2 walk → host stage of the final GPA: one combined IOTLB entry. */
  #guestWalk(req: DmaRequest, d: Dte, pasid: number, tr: boolean): IotlbEntry | TranslateResult {
    const phys = this.host.phys;
    const toSpa: GpaToSpa =
      d.mode === 0
        ? IDENTITY
        : (gpa) => {
            const w = walkV1(phys, d.hostRoot, d.mode, gpa);
            if (!w.ok) return w;
            return { ...w, spa: w.pa + (gpa & ((1n << BigInt(w.log2Size)) - 1n)) };
          };
    const g = walkGcr3(phys, d.gcr3Root, d.glx, pasid, this.host.gcr3TrpMode() ? toSpa : IDENTITY);
    if (!g.ok) return this.#v2Fault(req, tr, g, d, pasid);
    const v = walkV2(phys, g.cr3, d.guestPagingMode === 1 ? 5 : 4, req.iova, toSpa);
    if (!v.ok) return this.#v2Fault(req, tr, v, d, pasid);
    const gpa = v.gpa + (req.iova & ((1n << BigInt(v.log2Size)) - 1n));
    const h = toSpa(gpa);
    if (!h.ok) return this.#v1Fault(req, tr, h, d.domainId, 0, gpa);
    const log2Size = Math.min(v.log2Size, h.log2Size);
    const pa = h.spa - (req.iova & ((1n << BigInt(log2Size)) - 1n));
    return this.#entry(pa, log2Size, h.read, v.write && h.write, v.user, v.nx, undefined);
  }

  #entry(
    pa: bigint,
    log2Size: number,
    read: boolean,
    write: boolean,
    user: boolean,
    nx: boolean,
    ptePa?: bigint,
  ) {
    const pageSize = 1n << BigInt(log2Size);
    return {
      pa,
      log2Size,
      pageSize,
      mask: pageSize - 1n,
      read,
      write,
      user,
      nx,
      ptePa,
      dirtySet: false,
      filledAt: this.host.now(),
    };
  }

  #setBits(pa: bigint, bits: bigint): void {
    const phys = this.host.phys;
    phys.writeU64(pa, phys.readU64(pa) | bits);
  }

  #v1Fault(
    req: DmaRequest,
    tr: boolean,
    w: V1Miss,
    domid: number,
    gn: number,
    at = req.iova,
  ): TranslateResult {
    if (w.kind === 'hw-error')
      return this.#fault(req, tr, 'bad-config', EVENT_PAGE_TAB_HW_ERROR, gn, domid, w.at!);
    const reason: Reason =
      w.kind === 'range' ? 'aperture' : w.kind === 'reserved' ? 'bad-config' : 'not-present';
    const flags = gn | (w.kind === 'reserved' ? EVENT_FLAG_RZ : 0);
    return this.#fault(req, tr, reason, EVENT_IO_PAGE_FAULT, flags, domid, at);
  }

  #v2Fault(req: DmaRequest, tr: boolean, m: V2Miss, d: Dte, pasid: number): TranslateResult {
    if (m.kind === 'host') return this.#v1Fault(req, tr, m.host!, d.domainId, 0, m.at);
    if (m.kind === 'hw-error')
      return this.#fault(req, tr, 'bad-config', EVENT_PAGE_TAB_HW_ERROR, 0, d.domainId, m.at!);
    const reason: Reason =
      m.kind === 'range' ? 'aperture' : m.kind === 'reserved' ? 'bad-config' : 'not-present';
    const flags = EVENT_FLAG_GN | (m.kind === 'reserved' ? EVENT_FLAG_RZ : 0);
    return this.#fault(req, tr, reason, EVENT_IO_PAGE_FAULT, flags, pasid, req.iova);
  }

  /** A present page without the permission: PR and PE set. A TR still completes (with fewer rights). */
  #denied(req: DmaRequest, tr: boolean, flags: number, tag: number): TranslateResult {
    return this.#fault(
      req,
      tr,
      'permission',
      EVENT_IO_PAGE_FAULT,
      flags | EVENT_FLAG_PR | EVENT_FLAG_PE,
      tag,
      req.iova,
    );
  }

  #fault(
    req: DmaRequest,
    tr: boolean,
    reason: Reason,
    type: number,
    flags: number,
    tag: number,
    address: bigint,
  ): TranslateResult {
    const all = flags | (req.write ? EVENT_FLAG_RW : 0) | (tr ? EVENT_FLAG_TR : 0);
    const event: AmdEvent = { type, devid: req.rid, tag, flags: all, address };
    if (!(tr && reason === 'permission')) this.host.logEvent(event);
    const fault: DmaFault = {
      vendor: 'amd-vi',
      iommu: this.host.name,
      reason,
      rid: req.rid,
      pasid: req.pasid,
      iova: req.iova,
      write: req.write,
      record: {
        event: EVENT_NAMES[type]!,
        type,
        devid: req.rid,
        ...(all & EVENT_FLAG_GN ? { pasid: tag } : { domainId: tag }),
        flags: all,
        address,
      },
    };
    return { ok: false, fault };
  }
}
