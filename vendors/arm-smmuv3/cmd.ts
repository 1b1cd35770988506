import { type Field, fieldMask, getField, prepField } from './bits.ts';

/** CMDQ entries are 2 dwords (16 bytes). Opcodes and fields as in arm-smmu-v3.h (CMDQ_OP_*, CMDQ_*). */
export const CMDQ_ENT_DWORDS = 2;
export const CMDQ_ENT_BYTES = 16;

export const CMDQ_OP_PREFETCH_CFG = 0x1;
export const CMDQ_OP_PREFETCH_ADDR = 0x2;
export const CMDQ_OP_CFGI_STE = 0x3;
export const CMDQ_OP_CFGI_ALL = 0x4;
export const CMDQ_OP_CFGI_CD = 0x5;
export const CMDQ_OP_CFGI_CD_ALL = 0x6;
export const CMDQ_OP_TLBI_NH_ALL = 0x10;
export const CMDQ_OP_TLBI_NH_ASID = 0x11;
export const CMDQ_OP_TLBI_NH_VA = 0x12;
export const CMDQ_OP_TLBI_NH_VAA = 0x13;
export const CMDQ_OP_TLBI_EL2_ALL = 0x20;
export const CMDQ_OP_TLBI_EL2_ASID = 0x21;
export const CMDQ_OP_TLBI_EL2_VA = 0x22;
export const CMDQ_OP_TLBI_EL2_VAA = 0x23;
export const CMDQ_OP_TLBI_S12_VMALL = 0x28;
export const CMDQ_OP_TLBI_S2_IPA = 0x2a;
export const CMDQ_OP_TLBI_NSNH_ALL = 0x30;
export const CMDQ_OP_ATC_INV = 0x40;
export const CMDQ_OP_PRI_RESP = 0x41;
export const CMDQ_OP_RESUME = 0x44;
export const CMDQ_OP_STALL_TERM = 0x45;
export const CMDQ_OP_CMD_SYNC = 0x46;

/** CFGI_ALL is CFGI_STE_RANGE with Range = 31. */
export const CMDQ_CFGI_RANGE_ALL = 31;
export const CMDQ_SYNC_0_CS_NONE = 0;
export const CMDQ_SYNC_0_CS_IRQ = 1;
export const CMDQ_SYNC_0_CS_SEV = 2;
export const CMDQ_PRI_1_RESP_DENY = 0;
export const CMDQ_PRI_1_RESP_FAIL = 1;
export const CMDQ_PRI_1_RESP_SUCC = 2;
export const CMDQ_RESUME_0_RESP_TERM = 0;
export const CMDQ_RESUME_0_RESP_RETRY = 1;
export const CMDQ_RESUME_0_RESP_ABORT = 2;
/** ATC_INV Size ≥ 52 invalidates the whole address space (Linux's ATC_INV_SIZE_ALL). */
export const ATC_INV_SIZE_ALL = 52;
export const CMDQ_TLBI_RANGE_NUM_MAX = 31;

/** A decoded command. Unset fields are zero; addresses are kept in place (not shifted). */
export interface Cmd {
  readonly op: number;
  readonly ssv?: number;
  readonly ssid?: number;
  readonly sid?: number;
  readonly vmid?: number;
  readonly asid?: number;
  readonly num?: number;
  readonly scale?: number;
  readonly global?: number;
  readonly resp?: number;
  readonly cs?: number;
  readonly msh?: number;
  readonly msiattr?: number;
  readonly msidata?: number;
  readonly leaf?: number;
  readonly range?: number;
  readonly ttl?: number;
  readonly tg?: number;
  readonly size?: number;
  readonly stride?: number;
  readonly grpid?: number;
  readonly stag?: number;
  readonly addr?: bigint;
  readonly msiaddr?: bigint;
}

type NumKey = Exclude<keyof Cmd, 'op' | 'addr' | 'msiaddr'>;
type FieldSpec = Partial<Record<NumKey, Field>> & { addr?: Field; msiaddr?: Field };

interface OpSpec {
  readonly name: string;
  readonly dw0: FieldSpec;
  readonly dw1: FieldSpec;
}

const SID: Field = [63, 32];
const SSID: Field = [31, 12];
const SSV: Field = [11, 11];
const VMID: Field = [47, 32];
const ASID: Field = [63, 48];
const NUM: Field = [16, 12];
const SCALE: Field = [24, 20];
const TLBI_1 = { leaf: [0, 0], ttl: [9, 8], tg: [11, 10], addr: [63, 12] } as const satisfies FieldSpec;
const S2_IPA_1 = { leaf: [0, 0], ttl: [9, 8], tg: [11, 10], addr: [51, 12] } as const satisfies FieldSpec;

/** Every field each opcode defines; a set bit anywhere else is a reserved bit (CERROR_ILL). */
export const CMDQ_OPS: ReadonlyMap<number, OpSpec> = new Map<number, OpSpec>([
  [CMDQ_OP_PREFETCH_CFG, { name: 'PREFETCH_CONFIG', dw0: { ssv: SSV, ssid: SSID, sid: SID }, dw1: {} }],
  [
    CMDQ_OP_PREFETCH_ADDR,
    {
      name: 'PREFETCH_ADDR',
      dw0: { ssv: SSV, ssid: SSID, sid: SID },
      dw1: { size: [4, 0], stride: [9, 5], addr: [63, 12] },
    },
  ],
  [CMDQ_OP_CFGI_STE, { name: 'CFGI_STE', dw0: { sid: SID }, dw1: { leaf: [0, 0] } }],
  [CMDQ_OP_CFGI_ALL, { name: 'CFGI_STE_RANGE', dw0: { sid: SID }, dw1: { range: [4, 0] } }],
  [CMDQ_OP_CFGI_CD, { name: 'CFGI_CD', dw0: { ssid: SSID, sid: SID }, dw1: { leaf: [0, 0] } }],
  [CMDQ_OP_CFGI_CD_ALL, { name: 'CFGI_CD_ALL', dw0: { sid: SID }, dw1: {} }],
  [CMDQ_OP_TLBI_NH_ALL, { name: 'TLBI_NH_ALL', dw0: { vmid: VMID }, dw1: {} }],
  [CMDQ_OP_TLBI_NH_ASID, { name: 'TLBI_NH_ASID', dw0: { vmid: VMID, asid: ASID }, dw1: {} }],
  [
    CMDQ_OP_TLBI_NH_VA,
    { name: 'TLBI_NH_VA', dw0: { num: NUM, scale: SCALE, vmid: VMID, asid: ASID }, dw1: TLBI_1 },
  ],
  [CMDQ_OP_TLBI_NH_VAA, { name: 'TLBI_NH_VAA', dw0: { num: NUM, scale: SCALE, vmid: VMID }, dw1: TLBI_1 }],
  [CMDQ_OP_TLBI_EL2_ALL, { name: 'TLBI_EL2_ALL', dw0: {}, dw1: {} }],
  [CMDQ_OP_TLBI_EL2_ASID, { name: 'TLBI_EL2_ASID', dw0: { asid: ASID }, dw1: {} }],
  [CMDQ_OP_TLBI_EL2_VA, { name: 'TLBI_EL2_VA', dw0: { num: NUM, scale: SCALE, asid: ASID }, dw1: TLBI_1 }],
  [CMDQ_OP_TLBI_EL2_VAA, { name: 'TLBI_EL2_VAA', dw0: { num: NUM, scale: SCALE }, dw1: TLBI_1 }],
  [CMDQ_OP_TLBI_S12_VMALL, { name: 'TLBI_S12_VMALL', dw0: { vmid: VMID }, dw1: {} }],
  [CMDQ_OP_TLBI_S2_IPA, { name: 'TLBI_S2_IPA', dw0: { num: NUM, scale: SCALE, vmid: VMID }, dw1: S2_IPA_1 }],
  [CMDQ_OP_TLBI_NSNH_ALL, { name: 'TLBI_NSNH_ALL', dw0: {}, dw1: {} }],
  [
    CMDQ_OP_ATC_INV,
    {
      name: 'ATC_INV',
      dw0: { global: [9, 9], ssv: SSV, ssid: SSID, sid: SID },
      dw1: { size: [5, 0], addr: [63, 12] },
    },
  ],
  [
    CMDQ_OP_PRI_RESP,
    { name: 'PRI_RESP', dw0: { ssv: SSV, ssid: SSID, sid: SID }, dw1: { grpid: [8, 0], resp: [13, 12] } },
  ],
  [CMDQ_OP_RESUME, { name: 'RESUME', dw0: { resp: [13, 12], sid: SID }, dw1: { stag: [15, 0] } }],
  [CMDQ_OP_STALL_TERM, { name: 'STALL_TERM', dw0: { sid: SID }, dw1: {} }],
  [
    CMDQ_OP_CMD_SYNC,
    {
      name: 'CMD_SYNC',
      dw0: { cs: [13, 12], msh: [23, 22], msiattr: [27, 24], msidata: [63, 32] },
      dw1: { msiaddr: [51, 2] },
    },
  ],
]);

const OP_FIELD: Field = [7, 0];

export function cmdName(op: number): string {
  return CMDQ_OPS.get(op)?.name ?? `OP_0x${op.toString(16)}`;
}

function encodeWord(spec: FieldSpec, cmd: Cmd): bigint {
  let w = 0n;
  for (const [key, f] of Object.entries(spec) as Array<[keyof FieldSpec, Field]>) {
    if (key === 'addr' || key === 'msiaddr') w |= (cmd[key] ?? 0n) & fieldMask(f);
    else w |= prepField(f, cmd[key] ?? 0);
  }
  return w;
}

/** `arm_smmu_cmdq_build_cmd`: the two dwords of a command. */
export function encodeCmd(cmd: Cmd): [bigint, bigint] {
  const spec = CMDQ_OPS.get(cmd.op);
  if (!spec) throw new RangeError(`unknown SMMUv3 opcode 0x${cmd.op.toString(16)}`);
  return [prepField(OP_FIELD, cmd.op) | encodeWord(spec.dw0, cmd), encodeWord(spec.dw1, cmd)];
}

function allowed(spec: FieldSpec): bigint {
  let m = 0n;
  for (const f of Object.values(spec) as Field[]) m |= fieldMask(f);
  return m;
}

const ALLOWED = new Map(
  [...CMDQ_OPS].map(([op, s]) => [op, [allowed(s.dw0) | fieldMask(OP_FIELD), allowed(s.dw1)] as const]),
);

function decodeWord(spec: FieldSpec, w: bigint, out: Record<string, number | bigint>): void {
  for (const [key, f] of Object.entries(spec) as Array<[keyof FieldSpec, Field]>) {
    out[key] = key === 'addr' || key === 'msiaddr' ? w & fieldMask(f) : getField(w, f);
  }
}

/** What the consumer knows about itself when it checks a command (IDR-derived). */
export interface CmdCheckContext {
  readonly sidBits: number;
  readonly ssidBits: number;
  readonly ril: boolean;
  readonly hyp: boolean;
  readonly s2: boolean;
  readonly ats: boolean;
  readonly pri: boolean;
}

export type DecodedCmd =
  | { readonly ok: true; readonly cmd: Cmd }
  | { readonly ok: false; readonly why: string };

const SID_OPS = new Set([
  CMDQ_OP_PREFETCH_CFG,
  CMDQ_OP_PREFETCH_ADDR,
  CMDQ_OP_CFGI_STE,
  CMDQ_OP_CFGI_CD,
  CMDQ_OP_CFGI_CD_ALL,
  CMDQ_OP_ATC_INV,
  CMDQ_OP_PRI_RESP,
  CMDQ_OP_RESUME,
  CMDQ_OP_STALL_TERM,
]);
const RANGE_OPS = new Set([
  CMDQ_OP_TLBI_NH_VA,
  CMDQ_OP_TLBI_NH_VAA,
  CMDQ_OP_TLBI_EL2_VA,
  CMDQ_OP_TLBI_EL2_VAA,
  CMDQ_OP_TLBI_S2_IPA,
]);
const EL2_OPS = new Set([
  CMDQ_OP_TLBI_EL2_ALL,
  CMDQ_OP_TLBI_EL2_ASID,
  CMDQ_OP_TLBI_EL2_VA,
  CMDQ_OP_TLBI_EL2_VAA,
]);

/**
 * The consumer's check of one entry: unknown opcodes, reserved bits, reserved encodings and
 * out-of-range StreamIDs/SubstreamIDs are CERROR_ILL; so are commands for absent features.
 */
export function decodeCmd(dw0: bigint, dw1: bigint, ctx: CmdCheckContext): DecodedCmd {
  const op = getField(dw0, OP_FIELD);
  const spec = CMDQ_OPS.get(op);
  const masks = ALLOWED.get(op);
  if (!spec || !masks) return { ok: false, why: `unknown opcode 0x${op.toString(16)}` };
  if (dw0 & ~masks[0] || dw1 & ~masks[1]) return { ok: false, why: `${spec.name}: reserved bits set` };
  const out: Record<string, number | bigint> = { op };
  decodeWord(spec.dw0, dw0, out);
  decodeWord(spec.dw1, dw1, out);
  const cmd = out as unknown as Cmd;
  const why = semanticError(cmd, ctx);
  return why ? { ok: false, why: `${spec.name}: ${why}` } : { ok: true, cmd };
}

function semanticError(c: Cmd, ctx: CmdCheckContext): string | undefined {
  if (SID_OPS.has(c.op) && (c.sid ?? 0) >= 2 ** ctx.sidBits) return `StreamID ${c.sid} out of range`;
  const ssidUsed = c.op === CMDQ_OP_CFGI_CD || (c.ssv ?? 0) === 1;
  if (ssidUsed && (c.ssid ?? 0) >= 2 ** ctx.ssidBits) return `SubstreamID ${c.ssid} out of range`;
  if (RANGE_OPS.has(c.op) && !ctx.ril && ((c.num ?? 0) | (c.scale ?? 0) | (c.tg ?? 0) | (c.ttl ?? 0)) !== 0)
    return 'range fields without IDR3.RIL';
  if (c.op === CMDQ_OP_CMD_SYNC && c.cs === 3) return 'CS=3 is reserved';
  if ((c.op === CMDQ_OP_PRI_RESP || c.op === CMDQ_OP_RESUME) && c.resp === 3) return 'Resp=3 is reserved';
  if (EL2_OPS.has(c.op) && !ctx.hyp) return 'EL2 command without IDR0.HYP';
  if ((c.op === CMDQ_OP_TLBI_S12_VMALL || c.op === CMDQ_OP_TLBI_S2_IPA) && !ctx.s2) return 'no stage 2';
  if (c.op === CMDQ_OP_ATC_INV && !ctx.ats) return 'no ATS';
  if (c.op === CMDQ_OP_PRI_RESP && !ctx.pri) return 'no PRI';
  return undefined;
}

/** A readable one-liner for traces. */
export function describeCmd(c: Cmd): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(c)) {
    if (k === 'op' || v === 0 || v === 0n) continue;
    parts.push(`${k}=${typeof v === 'bigint' ? `0x${v.toString(16)}` : v}`);
  }
  return parts.join(' ');
}
