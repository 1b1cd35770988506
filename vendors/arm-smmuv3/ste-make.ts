import { encodeCd, TCR_RGN_WBWA, TCR_SH_IS, TG0_4K } from './cd.ts';
import type { Smmuv3Features } from './features.ts';
import { ARM_LPAE_MAIR } from './lpae.ts';
import type { Master } from './master.ts';
import { OAS_BITS } from './regs.ts';
import {
  ARM_SMMU_SH_ISH,
  encodeSte,
  STRTAB_STE_0_CFG_S1_TRANS,
  STRTAB_STE_0_CFG_S2_TRANS,
  STRTAB_STE_1_EATS_TRANS,
  STRTAB_STE_1_S1C_CACHE_WBRA,
  STRTAB_STE_1_STRW_NSEL1,
} from './ste.ts';

/** What the builders need from a paging domain. */
export interface DomainCfg {
  readonly asid: number;
  readonly vmid: number;
  readonly ias: number;
  readonly root: bigint;
  readonly hd: boolean;
}

function ipsFor(bits: number): number {
  const i = OAS_BITS.indexOf(bits as (typeof OAS_BITS)[number]);
  return i < 0 ? 5 : i;
}

/** `arm_smmu_make_s1_cd`: TTB0 walk of the domain's table, EPD1, record faults, its ASID. */
export function makeS1Cd(d: DomainCfg, f: Smmuv3Features, master: Master): bigint[] {
  return encodeCd({
    t0sz: 64 - d.ias,
    tg0: TG0_4K,
    irgn0: TCR_RGN_WBWA,
    orgn0: TCR_RGN_WBWA,
    sh0: TCR_SH_IS,
    epd1: true,
    v: true,
    ips: ipsFor(f.oas),
    aa64: true,
    s: master.stallEnabled,
    r: true,
    a: true,
    aset: true,
    asid: d.asid,
    ha: d.hd,
    hd: d.hd,
    ttb0: d.root,
    mair: ARM_LPAE_MAIR,
  });
}

/** `arm_smmu_make_cdtable_ste`: stage 1 through the master's CD table. */
export function makeCdtableSte(master: Master, f: Smmuv3Features, ats: boolean, s1dss: number): bigint[] {
  const cd = master.cdTable!;
  return encodeSte({
    v: true,
    config: STRTAB_STE_0_CFG_S1_TRANS,
    s1fmt: cd.s1fmt,
    s1ctxptr: cd.base,
    s1cdmax: cd.s1cdmax,
    s1dss,
    s1cir: STRTAB_STE_1_S1C_CACHE_WBRA,
    s1cor: STRTAB_STE_1_S1C_CACHE_WBRA,
    s1csh: ARM_SMMU_SH_ISH,
    s1stalld: f.stall && !master.stallEnabled,
    eats: ats ? STRTAB_STE_1_EATS_TRANS : 0,
    strw: STRTAB_STE_1_STRW_NSEL1,
    s2vmid: 0,
  });
}

/** `arm_smmu_make_s2_domain_ste`: stage 2 only, tagged with the domain's VMID. */
export function makeS2DomainSte(master: Master, f: Smmuv3Features, d: DomainCfg, ats: boolean): bigint[] {
  return encodeSte({
    v: true,
    config: STRTAB_STE_0_CFG_S2_TRANS,
    eats: ats ? STRTAB_STE_1_EATS_TRANS : 0,
    s2vmid: d.vmid,
    vtcr: {
      t0sz: 64 - d.ias,
      sl0: 2,
      ir0: TCR_RGN_WBWA,
      or0: TCR_RGN_WBWA,
      sh0: TCR_SH_IS,
      tg: 0,
      ps: ipsFor(f.oas),
    },
    s2aa64: true,
    s2ptw: true,
    s2s: master.stallEnabled,
    s2r: true,
    s2ttb: d.root,
  });
}
