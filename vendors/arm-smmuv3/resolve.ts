import type { DmaFault } from '../hardware.ts';
import { get32 } from './bits.ts';
import { CD_BYTES, type Cd, decodeCd, TG0_4K } from './cd.ts';
import type { ConfigCache, Resolved, S1Context, SidConfig } from './config-cache.ts';
import {
  EVT_CLASS_CD,
  EVT_ID_BAD_CD_CONFIG,
  EVT_ID_BAD_STE_CONFIG,
  EVT_ID_BAD_STREAMID_CONFIG,
  EVT_ID_BAD_SUBSTREAMID_CONFIG,
  EVT_ID_CD_FETCH_FAULT,
  EVT_ID_STE_FETCH_FAULT,
  EVT_ID_STREAM_DISABLED_FAULT,
} from './event.ts';
import type { Smmuv3Features } from './features.ts';
import { type Iotlb, REGIME_EL2, REGIME_NS_EL1, REGIME_S2 } from './iotlb.ts';
import { levelShift, startLevelFor, type WalkConfig } from './lpae.ts';
import {
  OAS_BITS,
  STRTAB_BASE_ADDR_MASK,
  STRTAB_BASE_CFG_FMT_2LVL,
  STRTAB_BASE_CFG_FMT_LINEAR,
} from './regs.ts';
import { type S2Translate, s2Fault } from './stage2.ts';
import {
  decodeSte,
  STE_BYTES,
  STRTAB_STE_0_CFG_ABORT,
  STRTAB_STE_0_CFG_BYPASS,
  STRTAB_STE_0_CFG_NESTED,
  STRTAB_STE_0_CFG_S2_TRANS,
  STRTAB_STE_1_EATS_S1CHK,
  STRTAB_STE_1_S1DSS_BYPASS,
  STRTAB_STE_1_S1DSS_SSID0,
  STRTAB_STE_1_S1DSS_TERMINATE,
  STRTAB_STE_1_STRW_EL2,
  STRTAB_STE_1_STRW_NSEL1,
  type Ste,
} from './ste.ts';

/** A fault raised while fetching or checking configuration (or a stage-2 fault on a CD fetch). */
export interface ConfigFault {
  readonly fault: true;
  readonly id: number;
  readonly reason: DmaFault['reason'];
  readonly why: string;
  /** Config errors are always recorded; a stage-2 fault on a CD fetch only under STE.S2R. */
  readonly record: boolean;
  readonly fetchAddr?: bigint;
  readonly s2?: boolean;
  readonly class?: number;
  readonly ipa?: bigint;
}

/** What resolution reads from the hardware. */
export interface ResolveEnv {
  readonly features: Smmuv3Features;
  readonly cache: ConfigCache;
  readonly iotlb: Iotlb;
  readonly strtabBase: bigint;
  readonly strtabBaseCfg: number;
  read(pa: bigint): bigint | undefined;
  readonly s2: S2Translate;
}

const cfgFault = (id: number, why: string, extra: Partial<ConfigFault> = {}): ConfigFault => ({
  fault: true,
  id,
  reason: 'bad-config',
  why,
  record: true,
  ...extra,
});

function readWords(env: ResolveEnv, pa: bigint, n: number): bigint[] | undefined {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const w = env.read(pa + BigInt(i * 8));
    if (w === undefined) return undefined;
    out.push(w);
  }
  return out;
}

/** Finds the STE of `sid` through the linear or 2-level stream table. */
export function locateSte(env: ResolveEnv, sid: number): bigint | ConfigFault {
  const cfg = env.strtabBaseCfg;
  const fmt = get32(cfg, 17, 16);
  const log2 = Math.min(get32(cfg, 5, 0), env.features.sidBits);
  const base = env.strtabBase & STRTAB_BASE_ADDR_MASK;
  if (sid >= 2 ** log2)
    return cfgFault(EVT_ID_BAD_STREAMID_CONFIG, `StreamID ${sid} beyond LOG2SIZE ${log2}`);
  if (fmt === STRTAB_BASE_CFG_FMT_LINEAR) return base + BigInt(sid * STE_BYTES);
  const split = get32(cfg, 10, 6);
  if (fmt !== STRTAB_BASE_CFG_FMT_2LVL || ![6, 8, 10].includes(split))
    return cfgFault(EVT_ID_BAD_STREAMID_CONFIG, 'illegal STRTAB_BASE_CFG');
  const l1 = base + BigInt(Math.floor(sid / 2 ** split) * 8);
  const desc = env.read(l1);
  if (desc === undefined) return cfgFault(EVT_ID_STE_FETCH_FAULT, 'L1STD fetch abort', { fetchAddr: l1 });
  const span = Number(desc & 0x1fn);
  const index = sid % 2 ** split;
  if (span === 0 || span > split + 1 || index >= 2 ** (span - 1))
    return cfgFault(EVT_ID_BAD_STREAMID_CONFIG, `no L2 stream table for StreamID ${sid}`);
  return (desc & STRTAB_BASE_ADDR_MASK) + BigInt(index * STE_BYTES);
}

/** The checks that make an STE ILLEGAL (C_BAD_STE), for this SMMU's features. */
export function steIllegal(s: Ste, f: Smmuv3Features): string | undefined {
  if (!s.v) return 'V=0';
  const cfg = s.config;
  if (cfg !== STRTAB_STE_0_CFG_ABORT && cfg < STRTAB_STE_0_CFG_BYPASS) return `reserved Config ${cfg}`;
  if (cfg === STRTAB_STE_0_CFG_ABORT || cfg === STRTAB_STE_0_CFG_BYPASS) return undefined;
  const s1 = (cfg & 1) !== 0;
  const s2 = (cfg & 2) !== 0;
  if (s1 && !f.s1) return 'stage 1 not implemented';
  if (s2 && !f.s2) return 'stage 2 not implemented';
  if (s.eats === 3 || (s.eats !== 0 && !f.ats)) return `EATS ${s.eats}`;
  if (s.eats === STRTAB_STE_1_EATS_S1CHK && cfg !== STRTAB_STE_0_CFG_NESTED)
    return 'EATS split-stage without nesting';
  if (s1) {
    if (s.s1cdmax > f.ssidBits) return `S1CDMax ${s.s1cdmax} > SSIDSIZE`;
    if (s.s1cdmax > 0 && (s.s1fmt === 3 || (s.s1fmt !== 0 && !f.cd2l))) return `S1Fmt ${s.s1fmt}`;
    if (s.s1ctxptr >> BigInt(f.oas) !== 0n) return 'S1ContextPtr beyond OAS';
    if (s.strw !== STRTAB_STE_1_STRW_NSEL1 && s.strw !== STRTAB_STE_1_STRW_EL2) return `STRW ${s.strw}`;
    if (s.strw === STRTAB_STE_1_STRW_EL2 && (!f.hyp || s2)) return 'STRW=EL2';
  }
  if (s2) {
    if (!s.s2aa64 || s.s2endi) return 'S2AA64=0 or big-endian tables';
    if (s.vtcr.tg !== 0) return `S2TG ${s.vtcr.tg} (only 4K)`;
    if (s2Shape(s) === undefined) return `S2T0SZ ${s.vtcr.t0sz} / S2SL0 ${s.vtcr.sl0}`;
    if (s.s2ttb & 0xff0n) return 'S2TTB misaligned';
    if (s.s2s && !f.stall) return 'S2S without stall support';
  }
  return undefined;
}

/** S2 input size and start level from VTCR (4K granule); undefined if inconsistent. */
function s2Shape(s: Ste): { ias: number; start: number } | undefined {
  const t0sz = s.vtcr.t0sz;
  const start = [2, 1, 0][s.vtcr.sl0];
  if (start === undefined || t0sz < 16 || t0sz > 39) return undefined;
  const ias = 64 - t0sz;
  const bits = ias - Number(levelShift(start));
  // The first lookup resolves 1..9 bits, or up to 13 with concatenated tables.
  return bits >= 1 && bits <= 13 ? { ias, start } : undefined;
}

export function s2WalkConfig(s: Ste, f: Smmuv3Features): WalkConfig {
  const shape = s2Shape(s)!;
  const ps = Math.min(OAS_BITS[s.vtcr.ps] ?? f.oas, f.oas);
  return { root: s.s2ttb, startLevel: shape.start, ias: shape.ias, oas: ps, stage: 2, ha: false, hd: false };
}

/** The checks that make a CD ILLEGAL (C_BAD_CD). */
export function cdIllegal(c: Cd, f: Smmuv3Features): string | undefined {
  if (!c.v) return 'V=0';
  if (!c.aa64) return 'AA64=0 (VMSAv8-32 tables unsupported)';
  if (c.endi) return 'big-endian tables';
  if (!c.epd0 && (c.tg0 !== TG0_4K || c.t0sz < 16 || c.t0sz > 39)) return `TG0 ${c.tg0} / T0SZ ${c.t0sz}`;
  if (!c.epd1 && (c.tg1 !== 2 || c.t1sz < 16 || c.t1sz > 39)) return `TG1 ${c.tg1} / T1SZ ${c.t1sz}`;
  if (c.s && !f.stall) return 'CD.S without stall support';
  return undefined;
}

function s1Context(c: Cd, f: Smmuv3Features): S1Context {
  const oas = Math.min(OAS_BITS[c.ips] ?? f.oas, f.oas);
  const ha = c.ha && f.httu >= 1;
  const hd = ha && c.hd && f.httu >= 2;
  const ias0 = 64 - c.t0sz;
  const ias1 = 64 - c.t1sz;
  const mk = (root: bigint, ias: number): WalkConfig => ({
    root,
    startLevel: startLevelFor(ias),
    ias,
    oas,
    stage: 1,
    ha,
    hd,
  });
  return {
    asid: c.asid,
    ttb0: c.epd0 ? undefined : mk(c.ttb0, ias0),
    ias0,
    ttb1: c.epd1 ? undefined : mk(c.ttb1, ias1),
    ias1,
    tbi0: c.tbi0,
    record: c.r,
    stall: c.s,
  };
}

function loadSte(env: ResolveEnv, sid: number): SidConfig | ConfigFault {
  const cached = env.cache.sids.get(sid);
  if (cached) return cached;
  const pa = locateSte(env, sid);
  if (typeof pa !== 'bigint') return pa;
  const words = readWords(env, pa, 8);
  if (!words) return cfgFault(EVT_ID_STE_FETCH_FAULT, 'STE fetch abort', { fetchAddr: pa });
  const ste = decodeSte(words);
  const why = steIllegal(ste, env.features);
  if (why) return cfgFault(EVT_ID_BAD_STE_CONFIG, why);
  const sc: SidConfig = { ste, cds: new Map(), resolved: new Map() };
  env.cache.sids.set(sid, sc);
  return sc;
}

function loadCd(env: ResolveEnv, sc: SidConfig, index: number, s2: WalkConfig | undefined): Cd | ConfigFault {
  const cached = sc.cds.get(index);
  if (cached) return cached;
  const ste = sc.ste;
  // With stage 2 on, S1ContextPtr and L2 pointers are IPAs: CD fetches go through stage 2.
  const toPa = (ipa: bigint): bigint | ConfigFault => {
    if (!s2) return ipa;
    const t = env.s2(s2, ipa);
    if (t.ok) return t.pa;
    return {
      ...s2Fault(t, ipa),
      fault: true,
      class: EVT_CLASS_CD,
      record: ste.s2r,
      why: 'stage 2 fault on CD fetch',
    };
  };
  let ipa = ste.s1ctxptr + BigInt(index * CD_BYTES);
  if (ste.s1cdmax > 0 && ste.s1fmt !== 0) {
    const split = ste.s1fmt === 1 ? 6 : 10;
    const l1 = toPa(ste.s1ctxptr + BigInt(Math.floor(index / 2 ** split) * 8));
    if (typeof l1 !== 'bigint') return l1;
    const desc = env.read(l1);
    if (desc === undefined) return cfgFault(EVT_ID_CD_FETCH_FAULT, 'L1CD fetch abort', { fetchAddr: l1 });
    if ((desc & 1n) === 0n) return cfgFault(EVT_ID_BAD_SUBSTREAMID_CONFIG, `L1CD for SSID ${index} invalid`);
    ipa = (desc & ((1n << 52n) - 1n) & ~0xfffn) + BigInt((index % 2 ** split) * CD_BYTES);
  }
  const pa = toPa(ipa);
  if (typeof pa !== 'bigint') return pa;
  const words = readWords(env, pa, 8);
  if (!words) return cfgFault(EVT_ID_CD_FETCH_FAULT, 'CD fetch abort', { fetchAddr: pa });
  const cd = decodeCd(words);
  const why = cdIllegal(cd, env.features) ?? (cd.s && ste.s1stalld ? 'CD.S with STE.S1STALLD' : undefined);
  if (why) return cfgFault(EVT_ID_BAD_CD_CONFIG, why);
  sc.cds.set(index, cd);
  return cd;
}

/**
 * SID (+SSID) → STE → CD → a translation configuration, through the configuration cache. A
 * successful resolution is cached; faults never are.
 */
export function resolve(env: ResolveEnv, sid: number, ssid: number | undefined): Resolved | ConfigFault {
  const sc = loadSte(env, sid);
  if ('fault' in sc) return sc;
  const key = ssid ?? -1;
  const hit = sc.resolved.get(key);
  if (hit) return hit;
  const r = resolveUncached(env, sc, sid, ssid);
  if (!('fault' in r)) sc.resolved.set(key, r);
  return r;
}

function resolveUncached(env: ResolveEnv, sc: SidConfig, sid: number, ssid: number | undefined) {
  const ste = sc.ste;
  const f = env.features;
  if (ste.config === STRTAB_STE_0_CFG_ABORT) return { kind: 'abort' } as const;
  if (ste.config === STRTAB_STE_0_CFG_BYPASS) return { kind: 'bypass', eats: ste.eats } as const;
  const s2 = ste.config & 2 ? s2WalkConfig(ste, f) : undefined;
  const base = { kind: 'xlate', sid, s2, s2record: ste.s2r, s2stall: ste.s2s, eats: ste.eats } as const;
  const s2Bucket = () => env.iotlb.bucket(REGIME_S2, ste.s2vmid, 0);
  if (ste.config === STRTAB_STE_0_CFG_S2_TRANS) {
    if (ssid !== undefined) return cfgFault(EVT_ID_BAD_SUBSTREAMID_CONFIG, 'SubstreamID without stage 1');
    return { ...base, bucket: s2Bucket(), s1: undefined };
  }
  let index = 0;
  if (ste.s1cdmax === 0) {
    if (ssid !== undefined) return cfgFault(EVT_ID_BAD_SUBSTREAMID_CONFIG, 'substreams disabled (S1CDMax=0)');
  } else if (ssid === undefined) {
    if (ste.s1dss === STRTAB_STE_1_S1DSS_TERMINATE)
      return cfgFault(EVT_ID_STREAM_DISABLED_FAULT, 'S1DSS=terminate');
    if (ste.s1dss === STRTAB_STE_1_S1DSS_BYPASS) {
      return s2
        ? { ...base, bucket: s2Bucket(), s1: undefined }
        : ({ kind: 'bypass', eats: ste.eats } as const);
    }
    if (ste.s1dss !== STRTAB_STE_1_S1DSS_SSID0) return cfgFault(EVT_ID_BAD_STE_CONFIG, 'S1DSS reserved');
  } else {
    if (ssid >= 2 ** ste.s1cdmax) return cfgFault(EVT_ID_BAD_SUBSTREAMID_CONFIG, `SSID ${ssid} ≥ 2^S1CDMax`);
    if (ssid === 0 && ste.s1dss === STRTAB_STE_1_S1DSS_SSID0)
      return cfgFault(EVT_ID_BAD_SUBSTREAMID_CONFIG, 'SSID 0 is reserved by S1DSS=SSID0');
    index = ssid;
  }
  const cd = loadCd(env, sc, index, s2);
  if ('fault' in cd) return cd;
  const el2 = ste.strw === STRTAB_STE_1_STRW_EL2;
  const bucket = env.iotlb.bucket(el2 ? REGIME_EL2 : REGIME_NS_EL1, el2 ? 0 : ste.s2vmid, cd.asid);
  return { ...base, bucket, s1: s1Context(cd, f) };
}
