import {
  QI_CC_TYPE,
  QI_DEIOTLB_TYPE,
  QI_DIOTLB_TYPE,
  QI_EIOTLB_TYPE,
  QI_GRAN_NONG_PASID,
  QI_GRAN_PSI_PASID,
  QI_IOTLB_TYPE,
  QI_IWD_STATUS_WRITE,
  QI_IWD_TYPE,
  QI_PC_TYPE,
  QI_PGRP_RESP_TYPE,
} from './descriptors.ts';

/**
 * The driver's descriptor builders, after Linux's `qi_desc_*` helpers (dmar.c). Each returns
 * [qw0, qw1, qw2, qw3]; qw2/qw3 are always zero.
 */
export type RawDesc = [bigint, bigint, bigint, bigint];

/** `MAX_AGAW_PFN_WIDTH`: the size order of "the whole device TLB". */
export const MAX_AGAW_PFN_WIDTH = 52;
/** `npages == -1`: a PASID-selective (not page-selective) flush. */
export const ALL_PAGES = -1n;

const VTD_PAGE_MASK = ~0xfffn & 0xffff_ffff_ffff_ffffn;
const pfsidBits = (pfsid: number): bigint =>
  (BigInt(pfsid & 0xf) << 12n) | (BigInt((pfsid >> 4) & 0xfff) << 52n);

/** cc_inv_dsc: G 1 global, 2 domain, 3 device (SID + FM). */
export function descCc(did: number, sid: number, fm: number, gran: number): RawDesc {
  return [
    (BigInt(fm & 3) << 48n) |
      (BigInt(sid) << 32n) |
      (BigInt(did) << 16n) |
      (BigInt(gran) << 4n) |
      BigInt(QI_CC_TYPE),
    0n,
    0n,
    0n,
  ];
}

/** `qi_desc_iotlb`: DR/DW follow CAP.DRD/DWD; G 1 global, 2 DSI, 3 PSI. */
export function descIotlb(
  did: number,
  addr: bigint,
  ih: boolean,
  sizeOrder: number,
  gran: number,
  drain: { dr: boolean; dw: boolean },
): RawDesc {
  const qw0 =
    (BigInt(did) << 16n) |
    (drain.dr ? 1n << 7n : 0n) |
    (drain.dw ? 1n << 6n : 0n) |
    (BigInt(gran) << 4n) |
    BigInt(QI_IOTLB_TYPE);
  const qw1 = (addr & VTD_PAGE_MASK) | (ih ? 1n << 6n : 0n) | BigInt(sizeOrder & 0x3f);
  return [qw0, qw1, 0n, 0n];
}

/** `qi_desc_dev_iotlb`: `mask` = size order in pages; 0 is one page. */
export function descDevIotlb(sid: number, pfsid: number, qdep: number, addr: bigint, mask: number): RawDesc {
  let a = addr;
  let qw1 = 0n;
  if (mask) {
    a |= (1n << BigInt(12 + mask - 1)) - 1n;
    qw1 |= 1n;
  }
  qw1 |= a & VTD_PAGE_MASK;
  const qw0 =
    (BigInt(sid & 0xffff) << 32n) | (BigInt(qdep & 0x1f) << 16n) | BigInt(QI_DIOTLB_TYPE) | pfsidBits(pfsid);
  return [qw0, qw1, 0n, 0n];
}

/** `qi_desc_piotlb`: `npages` = ALL_PAGES for a PASID-selective flush. */
export function descPiotlb(did: number, pasid: number, addr: bigint, npages: bigint, ih: boolean): RawDesc {
  const head = (BigInt(pasid) << 32n) | (BigInt(did) << 16n) | BigInt(QI_EIOTLB_TYPE);
  if (npages === ALL_PAGES) return [head | (BigInt(QI_GRAN_NONG_PASID) << 4n), 0n, 0n, 0n];
  const mask = ceilLog2(npages);
  const align = 1n << BigInt(12 + mask);
  const a = addr & ~(align - 1n);
  return [
    head | (BigInt(QI_GRAN_PSI_PASID) << 4n),
    (a & VTD_PAGE_MASK) | (ih ? 1n << 6n : 0n) | BigInt(mask & 0x3f),
    0n,
    0n,
  ];
}

/** `qi_desc_dev_iotlb_pasid`: S=1 with the ATS size encoding when `sizeOrder` > 0. */
export function descDevIotlbPasid(
  sid: number,
  pfsid: number,
  pasid: number,
  qdep: number,
  addr: bigint,
  sizeOrder: number,
): RawDesc {
  const qw0 =
    (BigInt(pasid & 0xfffff) << 32n) |
    (BigInt(sid & 0xffff) << 16n) |
    (BigInt(qdep & 0x1f) << 4n) |
    BigInt(QI_DEIOTLB_TYPE) |
    pfsidBits(pfsid);
  let qw1 = addr & VTD_PAGE_MASK;
  if (sizeOrder) {
    qw1 |= ((1n << BigInt(sizeOrder + 12 - 1)) - 1n) & VTD_PAGE_MASK;
    qw1 |= 1n << 11n;
  }
  return [qw0, qw1, 0n, 0n];
}

/** pc_inv_dsc. */
export function descPc(did: number, pasid: number, gran: number): RawDesc {
  return [
    (BigInt(pasid) << 32n) | (BigInt(did) << 16n) | (BigInt(gran) << 4n) | BigInt(QI_PC_TYPE),
    0n,
    0n,
    0n,
  ];
}

/** inv_wait_dsc with a status write of `data` to `addr`; `flags` adds IF/FN/PD. */
export function descWait(data: number, addr: bigint, flags = 0n): RawDesc {
  return [(BigInt(data >>> 0) << 32n) | QI_IWD_STATUS_WRITE | flags | BigInt(QI_IWD_TYPE), addr, 0n, 0n];
}

/** Page group response (`intel_page_response`). */
export function descPageResponse(
  rid: number,
  pasid: number | undefined,
  prgIndex: number,
  code: number,
  lpig: boolean,
): RawDesc {
  const qw0 =
    (BigInt(pasid ?? 0) << 32n) |
    (BigInt(rid) << 16n) |
    (BigInt(code & 0xf) << 12n) |
    (pasid !== undefined ? 1n << 4n : 0n) |
    BigInt(QI_PGRP_RESP_TYPE);
  return [qw0, (BigInt(prgIndex & 0x1ff) << 3n) | (lpig ? 1n << 2n : 0n), 0n, 0n];
}

/** ilog2(roundup_pow_of_two(n)). */
export function ceilLog2(n: bigint): number {
  let k = 0;
  while (1n << BigInt(k) < n) k++;
  return k;
}
