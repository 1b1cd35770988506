import type { DmaFault, DmaRequest, TranslateResult } from '../hardware.ts';
import type { ContextEntry, PasidEntry } from './entries.ts';
import { PGTT_FL_ONLY, PGTT_NESTED, PGTT_PT, PGTT_SL_ONLY } from './entries.ts';
import { FR, faultReasonName, neutralReason } from './fault-reasons.ts';
import type { FaultRecorder } from './fault-recording.ts';
import {
  type EntryKind,
  type Iotlb,
  type IotlbEntry,
  iotlbTag,
  KIND_FS,
  KIND_NESTED,
  KIND_SS,
} from './iotlb.ts';
import { MGAW } from './regs.ts';
import {
  type ConfigCaps,
  fetchContext,
  fetchPasidEntry,
  isConfigFault,
  type PasidConfig,
} from './walk-config.ts';
import { type Leaf, type PtWalk, type WalkMem, walkFirstStage, walkSecondStage } from './walk-pt.ts';

/** A PASID-cache entry: the entry, its IOTLB tag and the FPD that applies to its faults. */
export interface PasidCached extends PasidConfig {
  readonly tag: number;
  readonly kind: EntryKind;
}

export interface TranslatorCaps extends ConfigCaps {
  readonly sllps: number;
  readonly fs1gp: boolean;
}

const PASID_SPAN = 0x10_0000;
const HAW_LIMIT = 1n << BigInt(MGAW);
const PAGE_4K = 4096n;

/**
 * The DMA-remapping data path: context cache → PASID cache → IOTLB, and on a miss the walk of
 * the tables in memory. A hit costs a few Map lookups and no machine event. Faults are recorded
 * in the fault recording registers unless an FPD bit on the way says otherwise.
 */
export class Translator {
  /** Context cache: SID → scalable context entry (present and valid entries only). */
  readonly contextCache = new Map<number, ContextEntry>();
  /** PASID cache: SID * 2^20 + PASID → PASID entry (present and valid entries only). */
  readonly pasidCache = new Map<number, PasidCached>();
  /** RTADDR as latched by SRTP, with TTM. */
  rootTable = 0n;
  ttm = 0;
  enabled = false;

  constructor(
    private readonly mem: WalkMem,
    private readonly caps: TranslatorCaps,
    readonly iotlb: Iotlb,
    private readonly recorder: FaultRecorder,
    private readonly clock: () => number,
    private readonly name: string,
  ) {}

  /**
   * Translates one page of a DMA. `ats` marks a Translation Request: it needs DTE in the context
   * entry (else undefined: the device must use untranslated requests), and its translation
   * faults are returned to the device without being recorded.
   */
  translate(req: DmaRequest, ats = false): TranslateResult | undefined {
    if (!this.enabled) return { ok: true, pa: req.iova, pageSize: PAGE_4K, cached: false };
    if (this.ttm !== 1) return this.#fault(req, FR.INVALID_ROOT_TABLE, this.ttm === 3, false);
    const sid = req.rid;
    let ctx = this.contextCache.get(sid);
    if (ctx === undefined) {
      const c = fetchContext(this.mem, this.rootTable, sid);
      if (isConfigFault(c)) return this.#fault(req, c.fr, c.fpd, false);
      ctx = c;
      this.contextCache.set(sid, ctx);
    }
    if (ats && !ctx.dte) return undefined;
    let pasid = ctx.ridPasid;
    if (req.pasid !== undefined) {
      if (!ctx.paside) return this.#fault(req, FR.CTX_PASIDE, ctx.fpd, false);
      pasid = req.pasid;
    }
    const pkey = sid * PASID_SPAN + pasid;
    let pc = this.pasidCache.get(pkey);
    if (pc === undefined) {
      const r = fetchPasidEntry(this.mem, ctx, pasid, this.caps);
      if (isConfigFault(r)) return this.#fault(req, r.fr, r.fpd, false);
      const kind = r.pe.pgtt === PGTT_FL_ONLY ? KIND_FS : r.pe.pgtt === PGTT_NESTED ? KIND_NESTED : KIND_SS;
      pc = { pe: r.pe, fpd: r.fpd, tag: iotlbTag(r.pe.did, pasid), kind };
      this.pasidCache.set(pkey, pc);
    }
    const pe = pc.pe;
    if (pe.pgtt === PGTT_PT) {
      if (req.iova >= HAW_LIMIT) return this.#fault(req, FR.BEYOND_MAX, pc.fpd, ats);
      return { ok: true, pa: req.iova, pageSize: PAGE_4K, cached: false };
    }
    if (req.priv && !pe.sre && pe.pgtt !== PGTT_SL_ONLY) return this.#fault(req, FR.PTE_SRE, pc.fpd, false);
    const e = this.iotlb.lookup(pc.tag, Number(req.iova >> 12n));
    if (e !== undefined && permits(e, req, pe) && (e.dirtyDone || !req.write)) {
      return { ok: true, pa: e.pa + (req.iova & (e.size - 1n)), pageSize: e.size, cached: true };
    }
    const leaf = this.#walk(pe, req);
    if (typeof leaf === 'number') return this.#fault(req, leaf, pc.fpd, ats);
    const denied = checkPerm(leaf, req, pe);
    if (denied) return this.#fault(req, denied, pc.fpd, ats);
    // A clean entry makes a later write hit re-walk, so the hardware can set D.
    const dirtyDone = pc.kind === KIND_SS ? !pe.ssade || leaf.dirty : leaf.dirty;
    this.iotlb.fill(pe.did, pasid, req.iova, leaf, pc.kind, dirtyDone, this.clock());
    return { ok: true, pa: leaf.pa + (req.iova & (leaf.size - 1n)), pageSize: leaf.size, cached: false };
  }

  #walk(pe: PasidEntry, req: DmaRequest): PtWalk {
    const ss = { aw: pe.aw, ssade: pe.ssade, sllps: this.caps.sllps };
    if (pe.pgtt === PGTT_SL_ONLY) return walkSecondStage(this.mem, pe.ssptptr, req.iova, req.write, ss);
    const fs = { levels: pe.flpm === 1 ? 5 : 4, nxe: pe.nxe, fs1gp: this.caps.fs1gp };
    if (pe.pgtt === PGTT_FL_ONLY) return walkFirstStage(this.mem, pe.fsptptr, req.iova, req.write, fs);
    // Nested: every first-stage table fetch is a GPA the second stage translates.
    const xlate = (gpa: bigint, write: boolean, top: boolean): bigint | number => {
      const r = walkSecondStage(this.mem, pe.ssptptr, gpa, write, ss);
      if (r === FR.BEYOND_MAX) return FR.NESTED_GPA_MAX;
      if (r === FR.SS_RW || (typeof r !== 'number' && !r.read))
        return top ? FR.NESTED_PML4_READ : FR.NESTED_FS_READ;
      if (typeof r === 'number') return r;
      if (write && !r.write) return FR.NESTED_FS_WRITE;
      return r.pa + (gpa & (r.size - 1n));
    };
    const s1 = walkFirstStage(this.mem, pe.fsptptr, req.iova, req.write, { ...fs, xlate });
    if (typeof s1 === 'number') return s1;
    const gpa = s1.pa + (req.iova & (s1.size - 1n));
    const s2 = walkSecondStage(this.mem, pe.ssptptr, gpa, req.write, ss);
    if (typeof s2 === 'number') return s2;
    const size = s1.size < s2.size ? s1.size : s2.size;
    const hpa = s2.pa + (gpa & (s2.size - 1n));
    return {
      pa: hpa - (req.iova & (size - 1n)),
      size,
      read: s1.read && s2.read,
      write: s1.write && s2.write,
      exec: s1.exec,
      user: s1.user,
      ptePa: s2.ptePa,
      dirty: s1.dirty && (s2.dirty || !pe.ssade),
    };
  }

  #fault(req: DmaRequest, fr: number, fpd: boolean, ats: boolean): TranslateResult {
    // Translation Requests report translation faults in the completion, not in FRCD.
    const tr = ats && fr >= FR.FS_ACCESS;
    const record = !fpd && !tr;
    const index = record
      ? this.recorder.record({ fr, sid: req.rid, pasid: req.pasid, addr: req.iova, write: req.write })
      : -1;
    const fault: DmaFault = {
      vendor: 'intel-vtd',
      iommu: this.name,
      reason: neutralReason(fr),
      rid: req.rid,
      pasid: req.pasid,
      iova: req.iova,
      write: req.write,
      record: {
        fr,
        name: faultReasonName(fr),
        sid: req.rid,
        ...(req.pasid === undefined ? {} : { pasid: req.pasid }),
        addr: req.iova & ~0xfffn,
        type: req.write ? 'write' : 'read',
        frcd: index,
        recorded: tr ? 'translation-request' : !record ? 'suppressed' : index >= 0 ? 'yes' : 'overflow',
      },
    };
    return { ok: false, fault };
  }
}

/** Whether a cached entry grants this request (else the hardware re-walks). */
function permits(e: IotlbEntry | Leaf, req: DmaRequest, pe: PasidEntry): boolean {
  return checkPerm(e, req, pe) === 0;
}

/** 0 when allowed, else the fault reason. First-stage rules apply to first-stage and nested. */
function checkPerm(l: IotlbEntry | Leaf, req: DmaRequest, pe: PasidEntry): number {
  const user = !req.priv;
  if (pe.pgtt === PGTT_SL_ONLY) {
    if (req.write) return l.write ? 0 : FR.NO_WRITE;
    return l.read ? 0 : FR.NO_READ;
  }
  if (user && !l.user) return FR.US;
  if (req.write && !l.write && (user || pe.wpe)) return FR.NO_WRITE;
  if (!req.write && !l.read) return FR.NO_READ;
  if (req.exec && !l.exec && pe.nxe) return FR.NO_EXEC;
  return 0;
}
