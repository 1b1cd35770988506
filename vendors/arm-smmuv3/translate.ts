import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { DmaFault, DmaRequest, TranslateResult } from '../hardware.ts';
import type { XlateConfig } from './config-cache.ts';
import { EVT_CLASS_IN, EVT_CLASS_TT, EVT_ID_BAD_ATS_TREQ, EVT_NAMES, type EventRecord } from './event.ts';
import type { Iotlb } from './iotlb.ts';
import { type WalkAccess, type WalkConfig, type WalkOk, walk } from './lpae.ts';
import { type ConfigFault, type ResolveEnv, resolve } from './resolve.ts';
import { FAULT_EVENT, FAULT_REASON } from './stage2.ts';
import { STRTAB_STE_1_EATS_S1CHK, STRTAB_STE_1_EATS_TRANS } from './ste.ts';

/** What the data plane needs from its SMMU. */
export interface TranslateHost {
  readonly name: string;
  readonly phys: PhysMemory;
  readonly iotlb: Iotlb;
  readonly env: ResolveEnv;
  /** CR0.SMMUEN; while clear, GBPA decides (abort or bypass). */
  readonly smmuEnabled: boolean;
  readonly gbpaAbort: boolean;
  now(): number;
  /** Writes an EVTQ record (stalled faults get a STAG); returns the STAG or undefined. */
  reportEvent(rec: Partial<EventRecord>, stall: boolean): number | undefined;
}

/** A fault from the walk, with where it came from (stage, CLASS) and whether it is recorded. */
interface XlateFault {
  readonly ok: false;
  readonly id: number;
  readonly reason: DmaFault['reason'];
  readonly s2: boolean;
  readonly class: number;
  readonly ipa?: bigint;
  readonly record: boolean;
  readonly stall: boolean;
}

function xfault(
  kind: keyof typeof FAULT_EVENT,
  s2: boolean,
  cls: number,
  record: boolean,
  stall: boolean,
  ipa?: bigint,
): XlateFault {
  return {
    ok: false,
    id: FAULT_EVENT[kind],
    reason: FAULT_REASON[kind],
    s2,
    class: cls,
    record,
    stall,
    ...(ipa === undefined ? {} : { ipa }),
  };
}

/** Stage 1 (region choice TTB0/TTB1, tables fetched through stage 2 when nested), then stage 2. */
function walkFull(
  host: TranslateHost,
  x: XlateConfig,
  iova: bigint,
  access: WalkAccess,
): WalkOk | XlateFault {
  const phys = host.phys;
  const s2 = x.s2;
  if (!x.s1) {
    const r = walk(phys, s2!, iova, access);
    return r.ok ? r : xfault(r.kind, true, EVT_CLASS_IN, x.s2record, x.s2stall, iova);
  }
  const s1 = x.s1;
  let cfg: WalkConfig | undefined;
  let ia = s1.tbi0 ? iova & ((1n << 56n) - 1n) : iova;
  if (ia >> BigInt(s1.ias0) === 0n) cfg = s1.ttb0;
  else if (iova >> BigInt(s1.ias1) === (1n << BigInt(64 - s1.ias1)) - 1n) {
    cfg = s1.ttb1;
    ia = iova & ((1n << BigInt(s1.ias1)) - 1n);
  }
  if (!cfg) return { ...xfault('translation', false, EVT_CLASS_IN, s1.record, s1.stall), reason: 'aperture' };
  const fetch = s2
    ? (table: bigint) => {
        const t = walk(phys, s2, table, { write: false, exec: false, priv: false });
        if (!t.ok) return { ...t, s2: { ipa: table, onTableFetch: true } };
        return { ok: true as const, pa: t.oa + (table & (t.pageSize - 1n)) };
      }
    : undefined;
  const r1 = walk(phys, cfg, ia, access, fetch);
  if (!r1.ok) {
    if (r1.s2) return xfault(r1.kind, true, EVT_CLASS_TT, x.s2record, x.s2stall, r1.s2.ipa);
    return xfault(r1.kind, false, EVT_CLASS_IN, s1.record, s1.stall);
  }
  if (!s2) return r1;
  const ipa = r1.oa + (ia & (r1.pageSize - 1n));
  const r2 = walk(phys, s2, ipa, access);
  if (!r2.ok) return xfault(r2.kind, true, EVT_CLASS_IN, x.s2record, x.s2stall, ipa);
  let size = r2.pageSize;
  if (r1.pageSize < size) size = r1.pageSize;
  const pa = r2.oa + (ipa & (r2.pageSize - 1n));
  return {
    ok: true,
    oa: pa - (iova & (size - 1n)),
    pageSize: size,
    level: size === 4096n ? 3 : size === 1n << 21n ? 2 : 1,
    read: r1.read && r2.read,
    write: r1.write && r2.write,
    dirtyable: r1.dirtyable && r2.write,
    dbm: r1.dbm,
    exec: r1.exec && r2.exec,
  };
}

function dmaFault(
  host: TranslateHost,
  req: DmaRequest,
  reason: DmaFault['reason'],
  record: DmaFault['record'],
): TranslateResult {
  return {
    ok: false,
    fault: {
      vendor: 'arm-smmuv3',
      iommu: host.name,
      reason,
      rid: req.rid,
      pasid: req.pasid,
      iova: req.iova,
      write: req.write,
      record,
    },
  };
}

/** Builds the EVTQ record of a fault, writes it when recorded, and returns the DMA's fault. */
function report(
  host: TranslateHost,
  req: DmaRequest,
  f: {
    id: number;
    reason: DmaFault['reason'];
    record: boolean;
    s2?: boolean;
    class?: number;
    ipa?: bigint;
    fetchAddr?: bigint;
    stall?: boolean;
  },
): TranslateResult {
  const rec: Partial<EventRecord> = {
    id: f.id,
    sid: req.rid,
    ssv: req.pasid !== undefined,
    ssid: req.pasid ?? 0,
    rnw: !req.write,
    ind: req.exec ?? false,
    pnu: req.priv ?? false,
    s2: f.s2 ?? false,
    class: f.class ?? 0,
    addr: req.iova,
    dw3: f.fetchAddr ?? f.ipa ?? 0n,
  };
  const stag = f.record ? host.reportEvent(rec, f.stall ?? false) : undefined;
  return dmaFault(host, req, f.reason, {
    event: EVT_NAMES[f.id] ?? `0x${f.id.toString(16)}`,
    id: f.id,
    sid: req.rid,
    ssv: rec.ssv ? 1 : 0,
    ssid: rec.ssid ?? 0,
    addr: req.iova,
    rnw: rec.rnw ? 1 : 0,
    s2: rec.s2 ? 1 : 0,
    class: rec.class ?? 0,
    dw3: rec.dw3 ?? 0n,
    recorded: f.record ? 1 : 0,
    ...(stag === undefined ? {} : { stall: 1, stag }),
  });
}

function configFault(host: TranslateHost, req: DmaRequest, f: ConfigFault): TranslateResult {
  return report(host, req, f);
}

/**
 * The DMA hot path: cached configuration → IOTLB hit (no walk, no machine event), else the
 * walk fills the IOTLB. `ats` marks a PCIe Translation Request: walk faults are returned in the
 * completion and not recorded; configuration errors still are.
 */
export function smmuTranslate(host: TranslateHost, req: DmaRequest, ats = false): TranslateResult {
  if (!host.smmuEnabled) {
    if (host.gbpaAbort) return dmaFault(host, req, 'blocked', { event: 'GBPA.ABORT' });
    return { ok: true, pa: req.iova, pageSize: 4096n, cached: false };
  }
  let r = host.env.cache.sids.get(req.rid)?.resolved.get(req.pasid ?? -1);
  if (r === undefined) {
    const x = resolve(host.env, req.rid, req.pasid);
    if ('fault' in x) return configFault(host, req, x);
    r = x;
  }
  if (r.kind === 'xlate') {
    if (ats && r.eats !== STRTAB_STE_1_EATS_TRANS && !(r.eats === STRTAB_STE_1_EATS_S1CHK && r.s1 && r.s2))
      return report(host, req, { id: EVT_ID_BAD_ATS_TREQ, reason: 'blocked', record: true });
    const plain = req.priv !== true && req.exec !== true;
    if (plain) {
      const m = (req.write ? r.bucket.memoWrite : r.bucket.memoRead).get(req.iova);
      if (m !== undefined) {
        host.iotlb.hits++;
        return m;
      }
    }
    // Number(iova) is exact below 2^53; only larger IOVAs pay for bigint page arithmetic.
    const n = Number(req.iova);
    const small = n <= Number.MAX_SAFE_INTEGER;
    const vpn = small ? Math.floor(n / 4096) : Number(req.iova >> 12n);
    if (req.priv !== true) {
      const e = r.bucket.lookup(vpn);
      if (e !== undefined && (req.write ? e.write : e.read) && (req.exec !== true || e.exec)) {
        host.iotlb.hits++;
        const pa = small ? BigInt(e.paN + (n % e.sizeN)) : e.pa + (req.iova & e.mask);
        const hit = { ok: true, pa, pageSize: e.pageSize, cached: true } as const;
        if (plain) r.bucket.remember(req.iova, req.write, hit);
        return hit;
      }
    }
    host.iotlb.misses++;
    const w = walkFull(host, r, req.iova, {
      write: req.write,
      exec: req.exec ?? false,
      priv: req.priv ?? false,
    });
    if (!w.ok) return report(host, req, { ...w, record: w.record && !ats });
    if (req.priv !== true) {
      host.iotlb.fill(r.bucket, vpn, {
        pa: w.oa,
        pageSize: w.pageSize,
        mask: w.pageSize - 1n,
        paN: Number(w.oa),
        sizeN: Number(w.pageSize),
        level: w.level,
        read: w.read,
        // The TLB does not cache write permission of DBM pages: software may clean them
        // (AP[2]=1) without a TLBI (Linux's dirty read-and-clear), so each write re-checks.
        write: w.write && !w.dbm,
        dirtyable: w.dirtyable,
        exec: w.exec,
        filledAt: host.now(),
      });
    }
    return { ok: true, pa: w.oa + (req.iova & (w.pageSize - 1n)), pageSize: w.pageSize, cached: false };
  }
  if (r.kind === 'abort') return dmaFault(host, req, 'blocked', { event: 'STE.Config=abort', sid: req.rid });
  if (ats && r.eats === 0)
    return report(host, req, { id: EVT_ID_BAD_ATS_TREQ, reason: 'blocked', record: true });
  return { ok: true, pa: req.iova, pageSize: 4096n, cached: false };
}
