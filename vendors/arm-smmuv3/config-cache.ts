import type { Cd } from './cd.ts';
import type { TlbBucket } from './iotlb.ts';
import type { WalkConfig } from './lpae.ts';
import type { Ste } from './ste.ts';

/** Stage-1 context from a CD: the TTB0 (and optional TTB1) walks and the CD's fault controls. */
export interface S1Context {
  readonly asid: number;
  /** Undefined under EPD0: TTB0-region addresses fault without a walk. */
  readonly ttb0: WalkConfig | undefined;
  readonly ias0: number;
  readonly ttb1: WalkConfig | undefined;
  readonly ias1: number;
  readonly tbi0: boolean;
  /** CD.R / CD.S: record / stall stage-1 faults. */
  readonly record: boolean;
  readonly stall: boolean;
}

export interface XlateConfig {
  readonly kind: 'xlate';
  readonly sid: number;
  readonly bucket: TlbBucket;
  readonly s1: S1Context | undefined;
  readonly s2: WalkConfig | undefined;
  /** STE.S2R / STE.S2S. */
  readonly s2record: boolean;
  readonly s2stall: boolean;
  readonly eats: number;
}

/** What the hardware does with a (StreamID, SubstreamID) once its configuration is fetched. */
export type Resolved =
  | { readonly kind: 'abort' }
  | { readonly kind: 'bypass'; readonly eats: number }
  | XlateConfig;

/** Cached configuration of one StreamID: its STE, the CDs fetched through it, and the resolutions. */
export interface SidConfig {
  readonly ste: Ste;
  readonly cds: Map<number, Cd>;
  /** Keyed by SubstreamID, -1 for transactions without one. */
  readonly resolved: Map<number, Resolved>;
}

/**
 * The configuration cache (STE by SID, CD by SID+SSID). Only valid structures are cached, so a
 * fault is re-evaluated on every transaction; an STE/CD write takes effect only after the CFGI
 * for it, and until then the hardware keeps translating with the cached copy.
 */
export class ConfigCache {
  readonly sids = new Map<number, SidConfig>();

  invalidateSte(sid: number): void {
    this.sids.delete(sid);
  }

  /** CFGI_STE_RANGE: 2^(range+1) StreamIDs aligned around `sid`; range 31 is all. */
  invalidateSteRange(sid: number, range: number): void {
    if (range >= 31) {
      this.sids.clear();
      return;
    }
    const n = 2 ** (range + 1);
    const start = Math.floor(sid / n) * n;
    for (const s of [...this.sids.keys()]) if (s >= start && s < start + n) this.sids.delete(s);
  }

  invalidateCd(sid: number, ssid: number): void {
    const sc = this.sids.get(sid);
    if (!sc) return;
    sc.cds.delete(ssid);
    sc.resolved.delete(ssid);
    // Transactions without a SubstreamID use CD 0 (S1DSS=SSID0, or S1CDMax=0).
    if (ssid === 0) sc.resolved.delete(-1);
  }

  invalidateCdAll(sid: number): void {
    const sc = this.sids.get(sid);
    if (!sc) return;
    sc.cds.clear();
    sc.resolved.clear();
  }

  clear(): void {
    this.sids.clear();
  }

  get size(): number {
    return this.sids.size;
  }
}
