import type { Subject } from 'rxjs';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import { PPR_STATUS_FAILURE, PPR_STATUS_INVALID } from './commands.ts';
import {
  type AmdEvent,
  EVENT_FLAG_GN,
  EVENT_INVALID_PPR_REQUEST,
  encodePpr,
  PPR_FLAG_EXEC,
  PPR_FLAG_GN,
  PPR_FLAG_READ,
  PPR_FLAG_US,
  PPR_FLAG_WRITE,
  PPR_REQ_FAULT,
  PPR_SIZE,
} from './events.ts';
import type { LogRing } from './log-ring.ts';
import { CONTROL_PPR_EN } from './regs.ts';
import type { DteState } from './translate.ts';

/** A PCIe Page Request as a device sends it (PRI); `tag` is the PRG index. */
export interface PageRequest {
  readonly pasid?: number;
  readonly address: bigint;
  readonly read?: boolean;
  readonly write?: boolean;
  readonly exec?: boolean;
  readonly priv?: boolean;
  readonly tag: number;
}

/** A PRG Response as the device receives it: status 0 success, 1 invalid, 0xF failure. */
export interface PageResponse {
  readonly rid: number;
  readonly pasid: number | undefined;
  readonly tag: number;
  readonly status: number;
}

interface PprHw {
  readonly name: string;
  readonly control: bigint;
  readonly pprLog: LogRing;
  readonly pageResponses$: Subject<PageResponse>;
  dte(devid: number): DteState;
  endpoint(rid: number): { readonly name: string } | undefined;
  logEvent(e: AmdEvent): void;
  raisePpr(overflow: boolean): void;
}

/**
 * Page requests in, PRG responses out. A request from a device whose DTE lacks PPR (or with
 * CONTROL.PPREn clear) is INVALID_PPR_REQUEST and answered Invalid; one that finds the PPR log
 * full is lost (PprOverflow) and answered Failure [spec], so the device never waits forever.
 */
export class PprPort {
  constructor(
    private readonly hw: PprHw,
    private readonly scheduler: Scheduler,
    private readonly linkNs: number,
  ) {}

  #dev(rid: number): string {
    return this.hw.endpoint(rid)?.name ?? `rid:${rid.toString(16)}`;
  }

  request(rid: number, req: PageRequest): void {
    this.scheduler.post(
      `${this.#dev(rid)}->${this.hw.name}`,
      'ppr.req',
      () => this.#arrive(rid, req),
      this.linkNs,
    );
  }

  #arrive(rid: number, req: PageRequest): void {
    const st = this.hw.dte(rid);
    const gn = req.pasid !== undefined;
    if (st.kind !== 'ok' || !st.dte.v || !st.dte.ppr || !(this.hw.control & CONTROL_PPR_EN)) {
      this.hw.logEvent({
        type: EVENT_INVALID_PPR_REQUEST,
        devid: rid,
        tag: req.pasid ?? 0,
        flags: gn ? EVENT_FLAG_GN : 0,
        address: req.address,
      });
      this.respond(rid, req.pasid, PPR_STATUS_INVALID, req.tag);
      return;
    }
    const flags =
      (req.exec ? PPR_FLAG_EXEC : 0) |
      (req.read ? PPR_FLAG_READ : 0) |
      (req.write ? PPR_FLAG_WRITE : 0) |
      (req.priv ? 0 : PPR_FLAG_US) |
      (gn ? PPR_FLAG_GN : 0);
    const [q0, q1] = encodePpr({
      devid: rid,
      pasid: req.pasid ?? 0,
      tag: req.tag,
      flags,
      type: PPR_REQ_FAULT,
      address: req.address,
    });
    const bytes = new Uint8Array(PPR_SIZE);
    const v = new DataView(bytes.buffer);
    v.setBigUint64(0, q0, true);
    v.setBigUint64(8, q1, true);
    const r = this.hw.pprLog.append(bytes);
    if (r === 'ok') {
      this.hw.raisePpr(false);
      return;
    }
    if (r === 'overflow') this.hw.raisePpr(true);
    this.respond(rid, req.pasid, PPR_STATUS_FAILURE, req.tag);
  }

  /** COMPLETE_PPR_REQUEST: the PRG response travels to the device. */
  respond(devid: number, pasid: number | undefined, status: number, tag: number): void {
    this.scheduler.post(
      `${this.hw.name}->${this.#dev(devid)}`,
      'prg.resp',
      () => this.hw.pageResponses$.next({ rid: devid, pasid, tag, status }),
      this.linkNs,
    );
  }
}
