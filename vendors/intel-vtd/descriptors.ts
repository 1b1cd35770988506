import { IQEI } from './regs.ts';

/**
 * Invalidation-queue descriptors (VT-d §6.5.2; Linux `QI_*` in iommu.h). A descriptor is
 * 128 bits, or 256 with IQA.DW (qw2/qw3 then reserved). Type is qw0 bits 3:0; bits 11:9 are
 * the type's upper bits and must be zero for every type defined here.
 */
export const QI_CC_TYPE = 0x1;
export const QI_IOTLB_TYPE = 0x2;
export const QI_DIOTLB_TYPE = 0x3;
export const QI_IEC_TYPE = 0x4;
export const QI_IWD_TYPE = 0x5;
export const QI_EIOTLB_TYPE = 0x6;
export const QI_PC_TYPE = 0x7;
export const QI_DEIOTLB_TYPE = 0x8;
export const QI_PGRP_RESP_TYPE = 0x9;

export const QI_IWD_IF = 1n << 4n;
export const QI_IWD_STATUS_WRITE = 1n << 5n;
export const QI_IWD_FENCE = 1n << 6n;
export const QI_IWD_PRQ_DRAIN = 1n << 7n;

/** Granularities. cc: 1 global, 2 domain, 3 device. iotlb: 1 global, 2 DSI, 3 PSI. */
export const QI_GRAN_GLOBAL = 1;
export const QI_GRAN_DSI = 2;
export const QI_GRAN_PSI = 3;
/** p_iotlb: 2 all-in-PASID, 3 page-selective-in-PASID. */
export const QI_GRAN_NONG_PASID = 2;
export const QI_GRAN_PSI_PASID = 3;
/** pc: 0 all PASIDs of a DID, 1 PASID-selective, 3 global. */
export const QI_PC_ALL_PASIDS = 0;
export const QI_PC_PASID_SEL = 1;
export const QI_PC_GLOBAL = 3;

export const QI_RESP_SUCCESS = 0x0;
export const QI_RESP_INVALID = 0x1;
export const QI_RESP_FAILURE = 0xf;

export type QiDesc =
  | {
      readonly type: 'cc';
      readonly g: number;
      readonly did: number;
      readonly sid: number;
      readonly fm: number;
    }
  | {
      readonly type: 'iotlb';
      readonly g: number;
      readonly did: number;
      readonly dr: boolean;
      readonly dw: boolean;
      readonly am: number;
      readonly ih: boolean;
      readonly addr: bigint;
    }
  | {
      readonly type: 'dev_tlb';
      readonly sid: number;
      readonly pfsid: number;
      readonly qdep: number;
      readonly s: boolean;
      readonly addr: bigint;
    }
  | { readonly type: 'iec' }
  | {
      readonly type: 'inv_wait';
      readonly iflag: boolean;
      readonly sw: boolean;
      readonly fn: boolean;
      readonly pd: boolean;
      readonly statusData: number;
      readonly statusAddr: bigint;
    }
  | {
      readonly type: 'p_iotlb';
      readonly g: number;
      readonly did: number;
      readonly pasid: number;
      readonly am: number;
      readonly ih: boolean;
      readonly addr: bigint;
    }
  | { readonly type: 'pc'; readonly g: number; readonly did: number; readonly pasid: number }
  | {
      readonly type: 'p_dev_tlb';
      readonly sid: number;
      readonly pfsid: number;
      readonly qdep: number;
      readonly pasid: number;
      readonly global: boolean;
      readonly s: boolean;
      readonly addr: bigint;
    }
  | {
      readonly type: 'pgrp_resp';
      readonly pasidPresent: boolean;
      readonly pdp: boolean;
      readonly code: number;
      readonly rid: number;
      readonly pasid: number;
      readonly lpig: boolean;
      readonly prgIndex: number;
    };

const ADDR = 0xffff_ffff_ffff_f000n;
const M = (hi: number, lo: number): bigint => ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
const get = (v: bigint, hi: number, lo: number): number => Number((v & M(hi, lo)) >> BigInt(lo));
const bit = (v: bigint, pos: number): boolean => ((v >> BigInt(pos)) & 1n) === 1n;

/** Defined bits of qw0 and qw1 per type; anything else set is a reserved-field IQE. */
export const DEFINED: Record<number, readonly [bigint, bigint]> = {
  [QI_CC_TYPE]: [M(3, 0) | M(5, 4) | M(31, 16) | M(47, 32) | M(49, 48), 0n],
  [QI_IOTLB_TYPE]: [M(3, 0) | M(7, 4) | M(31, 16), M(6, 0) | ADDR],
  [QI_DIOTLB_TYPE]: [M(3, 0) | M(15, 12) | M(20, 16) | M(47, 32) | M(63, 52), 1n | ADDR],
  [QI_IEC_TYPE]: [M(3, 0) | M(4, 4) | M(31, 27) | M(47, 32), 0n],
  [QI_IWD_TYPE]: [M(3, 0) | M(7, 4) | M(63, 32), M(63, 2)],
  [QI_EIOTLB_TYPE]: [M(3, 0) | M(5, 4) | M(31, 16) | M(51, 32), M(6, 0) | ADDR],
  [QI_PC_TYPE]: [M(3, 0) | M(5, 4) | M(31, 16) | M(51, 32), 0n],
  [QI_DEIOTLB_TYPE]: [
    M(3, 0) | M(8, 4) | M(15, 12) | M(31, 16) | M(51, 32) | M(63, 52),
    1n | M(11, 11) | ADDR,
  ],
  [QI_PGRP_RESP_TYPE]: [M(3, 0) | M(5, 4) | M(15, 12) | M(31, 16) | M(51, 32), M(11, 2)],
};

/** Types that exist only with scalable mode and 256-bit descriptors. */
const SCALABLE_ONLY = new Set([QI_EIOTLB_TYPE, QI_PC_TYPE, QI_DEIOTLB_TYPE, QI_PGRP_RESP_TYPE]);

/**
 * Decodes and validates one fetched descriptor. Returns the IQEI code for an illegal one:
 * unknown type, reserved bits, a reserved granularity, or a scalable-only type in a 128-bit queue.
 */
export function decodeDescriptor(qw: readonly bigint[], dw: boolean): QiDesc | { iqei: number } {
  const [q0 = 0n, q1 = 0n, q2 = 0n, q3 = 0n] = qw;
  const type = get(q0, 3, 0);
  const defined = DEFINED[type];
  if (!defined) return { iqei: IQEI.INVALID };
  if (!dw && SCALABLE_ONLY.has(type)) return { iqei: IQEI.WIDTH };
  if (q0 & ~defined[0] || q1 & ~defined[1]) return { iqei: IQEI.INVALID };
  if (dw && (q2 !== 0n || q3 !== 0n) && type !== QI_PGRP_RESP_TYPE) return { iqei: IQEI.INVALID };
  switch (type) {
    case QI_CC_TYPE: {
      const g = get(q0, 5, 4);
      if (g === 0) return { iqei: IQEI.INVALID };
      return { type: 'cc', g, did: get(q0, 31, 16), sid: get(q0, 47, 32), fm: get(q0, 49, 48) };
    }
    case QI_IOTLB_TYPE: {
      const g = get(q0, 5, 4);
      if (g === 0) return { iqei: IQEI.INVALID };
      return {
        type: 'iotlb',
        g,
        did: get(q0, 31, 16),
        dw: bit(q0, 6),
        dr: bit(q0, 7),
        am: get(q1, 5, 0),
        ih: bit(q1, 6),
        addr: q1 & ADDR,
      };
    }
    case QI_DIOTLB_TYPE:
      return {
        type: 'dev_tlb',
        sid: get(q0, 47, 32),
        pfsid: get(q0, 15, 12) | (get(q0, 63, 52) << 4),
        qdep: get(q0, 20, 16),
        s: bit(q1, 0),
        addr: q1 & ADDR,
      };
    case QI_IEC_TYPE:
      return { type: 'iec' };
    case QI_IWD_TYPE:
      return {
        type: 'inv_wait',
        iflag: bit(q0, 4),
        sw: bit(q0, 5),
        fn: bit(q0, 6),
        pd: bit(q0, 7),
        statusData: get(q0, 63, 32),
        statusAddr: q1 & M(63, 2),
      };
    case QI_EIOTLB_TYPE: {
      const g = get(q0, 5, 4);
      if (g < QI_GRAN_NONG_PASID) return { iqei: IQEI.INVALID };
      return {
        type: 'p_iotlb',
        g,
        did: get(q0, 31, 16),
        pasid: get(q0, 51, 32),
        am: get(q1, 5, 0),
        ih: bit(q1, 6),
        addr: q1 & ADDR,
      };
    }
    case QI_PC_TYPE: {
      const g = get(q0, 5, 4);
      if (g === 2) return { iqei: IQEI.INVALID };
      return { type: 'pc', g, did: get(q0, 31, 16), pasid: get(q0, 51, 32) };
    }
    case QI_DEIOTLB_TYPE:
      return {
        type: 'p_dev_tlb',
        sid: get(q0, 31, 16),
        pfsid: get(q0, 15, 12) | (get(q0, 63, 52) << 4),
        qdep: get(q0, 8, 4),
        pasid: get(q0, 51, 32),
        global: bit(q1, 0),
        s: bit(q1, 11),
        addr: q1 & ADDR,
      };
    default:
      return {
        type: 'pgrp_resp',
        pasidPresent: bit(q0, 4),
        pdp: bit(q0, 5),
        code: get(q0, 15, 12),
        rid: get(q0, 31, 16),
        pasid: get(q0, 51, 32),
        lpig: bit(q1, 2),
        prgIndex: get(q1, 11, 3),
      };
  }
}

/**
 * The range a device-TLB invalidation names (ATS encoding): S=0 is one 4 KiB page; with S=1
 * the lowest clear address bit at or above 12 gives the size (bit 12 clear: 8 KiB). All ones is
 * the whole address space.
 */
export function atsRange(addr: bigint, s: boolean): { start: bigint; size: bigint } {
  if (!s) return { start: addr, size: 4096n };
  for (let b = 12n; b < 64n; b++) {
    if (((addr >> b) & 1n) === 0n) {
      const size = 1n << (b + 1n);
      return { start: addr & ~(size - 1n), size };
    }
  }
  return { start: 0n, size: 1n << 64n };
}

/** The range of a page-selective IOTLB invalidation: 2^AM pages at ADDR (low bits ignored). */
export function psiRange(addr: bigint, am: number): { start: bigint; size: bigint } {
  const size = 4096n << BigInt(am);
  return { start: addr & ~(size - 1n), size };
}
