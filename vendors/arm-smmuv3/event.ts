import { type Field, fieldMask, getField, prepField } from './bits.ts';

/** EVTQ records: 4 dwords (32 bytes); PRIQ entries: 2 dwords (16 bytes). Fields as in arm-smmu-v3.h. */
export const EVTQ_ENT_DWORDS = 4;
export const EVTQ_ENT_BYTES = 32;
export const PRIQ_ENT_DWORDS = 2;
export const PRIQ_ENT_BYTES = 16;

export const EVT_ID_UUT = 0x01;
export const EVT_ID_BAD_STREAMID_CONFIG = 0x02;
export const EVT_ID_STE_FETCH_FAULT = 0x03;
export const EVT_ID_BAD_STE_CONFIG = 0x04;
export const EVT_ID_BAD_ATS_TREQ = 0x05;
export const EVT_ID_STREAM_DISABLED_FAULT = 0x06;
export const EVT_ID_TRANSL_FORBIDDEN = 0x07;
export const EVT_ID_BAD_SUBSTREAMID_CONFIG = 0x08;
export const EVT_ID_CD_FETCH_FAULT = 0x09;
export const EVT_ID_BAD_CD_CONFIG = 0x0a;
export const EVT_ID_WALK_EABT = 0x0b;
export const EVT_ID_TRANSLATION_FAULT = 0x10;
export const EVT_ID_ADDR_SIZE_FAULT = 0x11;
export const EVT_ID_ACCESS_FAULT = 0x12;
export const EVT_ID_PERMISSION_FAULT = 0x13;
export const EVT_ID_TLB_CONFLICT = 0x20;
export const EVT_ID_CFG_CONFLICT = 0x21;
export const EVT_ID_PAGE_REQUEST = 0x24;

export const EVT_NAMES: Readonly<Record<number, string>> = {
  [EVT_ID_UUT]: 'F_UUT',
  [EVT_ID_BAD_STREAMID_CONFIG]: 'C_BAD_STREAMID',
  [EVT_ID_STE_FETCH_FAULT]: 'F_STE_FETCH',
  [EVT_ID_BAD_STE_CONFIG]: 'C_BAD_STE',
  [EVT_ID_BAD_ATS_TREQ]: 'F_BAD_ATS_TREQ',
  [EVT_ID_STREAM_DISABLED_FAULT]: 'F_STREAM_DISABLED',
  [EVT_ID_TRANSL_FORBIDDEN]: 'F_TRANSL_FORBIDDEN',
  [EVT_ID_BAD_SUBSTREAMID_CONFIG]: 'C_BAD_SUBSTREAMID',
  [EVT_ID_CD_FETCH_FAULT]: 'F_CD_FETCH',
  [EVT_ID_BAD_CD_CONFIG]: 'C_BAD_CD',
  [EVT_ID_WALK_EABT]: 'F_WALK_EABT',
  [EVT_ID_TRANSLATION_FAULT]: 'F_TRANSLATION',
  [EVT_ID_ADDR_SIZE_FAULT]: 'F_ADDR_SIZE',
  [EVT_ID_ACCESS_FAULT]: 'F_ACCESS',
  [EVT_ID_PERMISSION_FAULT]: 'F_PERMISSION',
  [EVT_ID_TLB_CONFLICT]: 'F_TLB_CONFLICT',
  [EVT_ID_CFG_CONFLICT]: 'F_CFG_CONFLICT',
  [EVT_ID_PAGE_REQUEST]: 'E_PAGE_REQUEST',
};

export const EVTQ_0_ID: Field = [7, 0];
export const EVTQ_0_SSV: Field = [11, 11];
export const EVTQ_0_SSID: Field = [31, 12];
export const EVTQ_0_SID: Field = [63, 32];
export const EVTQ_1_STAG: Field = [15, 0];
export const EVTQ_1_STALL: Field = [31, 31];
export const EVTQ_1_PnU: Field = [33, 33];
export const EVTQ_1_InD: Field = [34, 34];
export const EVTQ_1_RnW: Field = [35, 35];
export const EVTQ_1_S2: Field = [39, 39];
export const EVTQ_1_CLASS: Field = [41, 40];
export const EVTQ_1_TT_READ: Field = [44, 44];
export const EVTQ_3_IPA: Field = [51, 12];
export const EVTQ_3_FETCH_ADDR: Field = [51, 3];

/** EVTQ_1_CLASS: what the faulting access was for. */
export const EVT_CLASS_CD = 0;
export const EVT_CLASS_TT = 1;
export const EVT_CLASS_IN = 2;

export interface EventRecord {
  readonly id: number;
  readonly sid: number;
  readonly ssv: boolean;
  readonly ssid: number;
  readonly stag: number;
  readonly stall: boolean;
  readonly pnu: boolean;
  readonly ind: boolean;
  readonly rnw: boolean;
  readonly s2: boolean;
  readonly class: number;
  readonly ttRead: boolean;
  /** dw2: the input address, or the fetch address of a fetch fault. */
  readonly addr: bigint;
  /** dw3: the IPA of a stage-2 fault (bits 51:12 in place), or a fetch address (51:3). */
  readonly dw3: bigint;
}

export const EMPTY_EVENT: EventRecord = {
  id: 0,
  sid: 0,
  ssv: false,
  ssid: 0,
  stag: 0,
  stall: false,
  pnu: false,
  ind: false,
  rnw: false,
  s2: false,
  class: 0,
  ttRead: false,
  addr: 0n,
  dw3: 0n,
};

const b = (on: boolean) => (on ? 1 : 0);

export function encodeEvent(e: Partial<EventRecord>): bigint[] {
  const f: EventRecord = { ...EMPTY_EVENT, ...e };
  return [
    prepField(EVTQ_0_ID, f.id) |
      prepField(EVTQ_0_SSV, b(f.ssv)) |
      prepField(EVTQ_0_SSID, f.ssid) |
      prepField(EVTQ_0_SID, f.sid),
    prepField(EVTQ_1_STAG, f.stag) |
      prepField(EVTQ_1_STALL, b(f.stall)) |
      prepField(EVTQ_1_PnU, b(f.pnu)) |
      prepField(EVTQ_1_InD, b(f.ind)) |
      prepField(EVTQ_1_RnW, b(f.rnw)) |
      prepField(EVTQ_1_S2, b(f.s2)) |
      prepField(EVTQ_1_CLASS, f.class) |
      prepField(EVTQ_1_TT_READ, b(f.ttRead)),
    f.addr & ((1n << 64n) - 1n),
    f.dw3 & fieldMask([51, 0]),
  ];
}

export function decodeEvent(w: readonly bigint[]): EventRecord {
  const w0 = w[0] ?? 0n;
  const w1 = w[1] ?? 0n;
  return {
    id: getField(w0, EVTQ_0_ID),
    ssv: getField(w0, EVTQ_0_SSV) === 1,
    ssid: getField(w0, EVTQ_0_SSID),
    sid: getField(w0, EVTQ_0_SID),
    stag: getField(w1, EVTQ_1_STAG),
    stall: getField(w1, EVTQ_1_STALL) === 1,
    pnu: getField(w1, EVTQ_1_PnU) === 1,
    ind: getField(w1, EVTQ_1_InD) === 1,
    rnw: getField(w1, EVTQ_1_RnW) === 1,
    s2: getField(w1, EVTQ_1_S2) === 1,
    class: getField(w1, EVTQ_1_CLASS),
    ttRead: getField(w1, EVTQ_1_TT_READ) === 1,
    addr: w[2] ?? 0n,
    dw3: w[3] ?? 0n,
  };
}

// PRIQ

export const PRIQ_0_SID: Field = [31, 0];
export const PRIQ_0_SSID: Field = [51, 32];
export const PRIQ_0_PERM_PRIV: Field = [58, 58];
export const PRIQ_0_PERM_EXEC: Field = [59, 59];
export const PRIQ_0_PERM_READ: Field = [60, 60];
export const PRIQ_0_PERM_WRITE: Field = [61, 61];
export const PRIQ_0_PRG_LAST: Field = [62, 62];
export const PRIQ_0_SSID_V: Field = [63, 63];
export const PRIQ_1_PRG_IDX: Field = [8, 0];
export const PRIQ_1_ADDR: Field = [63, 12];

export interface PriRequest {
  readonly sid: number;
  readonly ssidValid: boolean;
  readonly ssid: number;
  readonly priv: boolean;
  readonly exec: boolean;
  readonly read: boolean;
  readonly write: boolean;
  readonly last: boolean;
  readonly grpid: number;
  /** Page address (bits 63:12 in place). */
  readonly addr: bigint;
}

export function encodePri(p: PriRequest): bigint[] {
  return [
    prepField(PRIQ_0_SID, p.sid) |
      prepField(PRIQ_0_SSID, p.ssid) |
      prepField(PRIQ_0_PERM_PRIV, b(p.priv)) |
      prepField(PRIQ_0_PERM_EXEC, b(p.exec)) |
      prepField(PRIQ_0_PERM_READ, b(p.read)) |
      prepField(PRIQ_0_PERM_WRITE, b(p.write)) |
      prepField(PRIQ_0_PRG_LAST, b(p.last)) |
      prepField(PRIQ_0_SSID_V, b(p.ssidValid)),
    prepField(PRIQ_1_PRG_IDX, p.grpid) | (p.addr & fieldMask(PRIQ_1_ADDR)),
  ];
}

export function decodePri(w: readonly bigint[]): PriRequest {
  const w0 = w[0] ?? 0n;
  const w1 = w[1] ?? 0n;
  const one = (f: Field) => getField(w0, f) === 1;
  return {
    sid: getField(w0, PRIQ_0_SID),
    ssid: getField(w0, PRIQ_0_SSID),
    priv: one(PRIQ_0_PERM_PRIV),
    exec: one(PRIQ_0_PERM_EXEC),
    read: one(PRIQ_0_PERM_READ),
    write: one(PRIQ_0_PERM_WRITE),
    last: one(PRIQ_0_PRG_LAST),
    ssidValid: one(PRIQ_0_SSID_V),
    grpid: getField(w1, PRIQ_1_PRG_IDX),
    addr: w1 & fieldMask(PRIQ_1_ADDR),
  };
}
