import { fail } from '../../actors/iommufd/errno.ts';
import type { Domain } from '../driver.ts';
import { CTXDESC_CD_DWORDS, cdUsedBits } from './cd.ts';
import { CdTable } from './cdtab.ts';
import { CMDQ_OP_CFGI_CD, CMDQ_OP_CFGI_STE, CMDQ_OP_PREFETCH_CFG } from './cmd.ts';
import type { Smmuv3PagingDomain } from './domain.ts';
import type { Smmuv3Driver } from './driver.ts';
import { writeEntry } from './entry-writer.ts';
import { atcInvMaster } from './invalidate.ts';
import type { Master } from './master.ts';
import { STRTAB_STE_1_S1DSS_SSID0, STRTAB_STE_1_S1DSS_TERMINATE, steUsedBits } from './ste.ts';
import { makeCdtableSte, makeS1Cd, makeS2DomainSte } from './ste-make.ts';
import { ABORT_STE } from './strtab.ts';

const CLEAR_CD: readonly bigint[] = new Array<bigint>(CTXDESC_CD_DWORDS).fill(0n);

/** `arm_smmu_install_ste_for_dev`: hitless STE update (CFGI_STE + sync per step), then a prefetch. */
export async function installSte(drv: Smmuv3Driver, m: Master, target: readonly bigint[]): Promise<void> {
  await writeEntry(
    drv.phys,
    {
      pa: drv.strtab.stePa(m.sid),
      used: steUsedBits,
      sync: async () => {
        if (!drv.active.skipCfgi) await drv.cmdq.issue([{ op: CMDQ_OP_CFGI_STE, sid: m.sid, leaf: 1 }], true);
      },
    },
    target,
  );
  // "It's likely that we'll want to use the new STE soon": a hint, no sync.
  await drv.cmdq.issue([{ op: CMDQ_OP_PREFETCH_CFG, sid: m.sid }], false);
}

/** `arm_smmu_sync_cd`: CFGI_CD for (SID, SSID) + sync. */
async function syncCd(drv: Smmuv3Driver, m: Master, ssid: number, leaf: boolean): Promise<void> {
  if (drv.active.skipCfgi) return;
  await drv.cmdq.issue([{ op: CMDQ_OP_CFGI_CD, sid: m.sid, ssid, leaf: leaf ? 1 : 0 }], true);
}

/** `arm_smmu_alloc_cd_ptr`: the CD table on first use, and its leaf for `ssid`. */
async function allocCdPtr(drv: Smmuv3Driver, m: Master, ssid: number): Promise<bigint> {
  m.cdTable ??= new CdTable(drv.phys, m.ssidBits, drv.features.cd2l);
  const p = m.cdTable.cdPtr(ssid, true)!;
  // An invalid L1CD can be cached.
  if (p.newLeaf) await syncCd(drv, m, ssid, false);
  return p.pa;
}

/** `arm_smmu_write_cd_entry`: counts PASIDs in use, then the hitless CD update. */
async function writeCd(drv: Smmuv3Driver, m: Master, ssid: number, pa: bigint, target: readonly bigint[]) {
  const cur = drv.phys.readU64(pa);
  const curValid = (cur >> 31n) & 1n;
  const targetValid = (target[0]! >> 31n) & 1n;
  if (ssid !== 0 && curValid !== targetValid) m.cdTable!.usedSsids += targetValid ? 1 : -1;
  await writeEntry(drv.phys, { pa, used: cdUsedBits, sync: () => syncCd(drv, m, ssid, true) }, target);
}

/** `arm_smmu_clear_cd`. */
async function clearCd(drv: Smmuv3Driver, m: Master, ssid: number): Promise<void> {
  const p = m.cdTable?.cdPtr(ssid, false);
  if (p) await writeCd(drv, m, ssid, p.pa, CLEAR_CD);
}

function atsSupported(drv: Smmuv3Driver, m: Master): boolean {
  return drv.features.ats && m.dev.ats;
}

function ours(drv: Smmuv3Driver, d: Domain | undefined): Smmuv3PagingDomain | undefined {
  return d && d.kind === 'paging' && d.driver === drv ? (d as Smmuv3PagingDomain) : undefined;
}

/** `arm_smmu_attach_prepare` (the part before the STE changes). */
function prepare(
  drv: Smmuv3Driver,
  m: Master,
  domain: Smmuv3PagingDomain | undefined,
  ssid: number,
  ats: boolean,
) {
  domain?.devices.push({ master: m, ssid });
  // The config write disabling ATS completes before the STE stops accepting translation requests.
  if (!ats && m.atsEnabled) drv.hw.setPciAts(m.sid, false);
}

/** `arm_smmu_attach_commit`: ATS on/off with the ATC flushes, then leave the old domain's list. */
async function commit(drv: Smmuv3Driver, m: Master, ats: boolean, ssid: number, old: Domain | undefined) {
  if (ats && !m.atsEnabled) {
    await atcInvMaster(drv, m, 0);
    drv.hw.setPciAts(m.sid, true);
  } else if (ats && m.atsEnabled) await atcInvMaster(drv, m, ssid);
  else if (!ats && m.atsEnabled) await atcInvMaster(drv, m, 0);
  m.atsEnabled = ats;
  const prev = ours(drv, old);
  if (prev) {
    const i = prev.devices.findIndex((md) => md.master === m && md.ssid === ssid);
    if (i >= 0) prev.devices.splice(i, 1);
  }
}

/** `arm_smmu_attach_dev` for a paging domain at the RID. */
export async function attachRid(
  drv: Smmuv3Driver,
  m: Master,
  d: Smmuv3PagingDomain,
  old: Domain | undefined,
) {
  const ats = atsSupported(drv, m);
  prepare(drv, m, d, 0, ats);
  let ste: bigint[];
  if (d.stage === 's1') {
    const pa = await allocCdPtr(drv, m, 0);
    await writeCd(drv, m, 0, pa, makeS1Cd(d.cfg, drv.features, m));
    ste = makeCdtableSte(m, drv.features, ats, STRTAB_STE_1_S1DSS_SSID0);
  } else {
    if (m.cdTable && m.cdTable.usedSsids > 0)
      fail('EINVAL', 'PASIDs in use: the RID cannot take a stage-2 domain');
    ste = makeS2DomainSte(m, drv.features, d.cfg, ats);
  }
  await installSte(drv, m, ste);
  m.cdInSte = d.stage === 's1';
  m.steAtsEnabled = ats;
  if (d.stage === 's2') await clearCd(drv, m, 0);
  await commit(drv, m, ats, 0, old);
  m.ridDomain = d;
}

/**
 * `arm_smmu_attach_dev_ste` with the abort STE: if PASIDs still use the CD table, the RID keeps
 * it with S1DSS=terminate (and ATS on, for the PASIDs); else the STE aborts everything.
 */
export async function attachRidBlocked(drv: Smmuv3Driver, m: Master, old: Domain | undefined) {
  const inUse = m.cdTable !== undefined && m.cdTable.usedSsids > 0;
  const ats = inUse && atsSupported(drv, m);
  prepare(drv, m, undefined, 0, ats);
  const ste = inUse ? makeCdtableSte(m, drv.features, ats, STRTAB_STE_1_S1DSS_TERMINATE) : [...ABORT_STE];
  await installSte(drv, m, ste);
  m.cdInSte = inUse;
  m.steAtsEnabled = ats;
  await commit(drv, m, ats, 0, old);
  await clearCd(drv, m, 0);
  m.ridDomain = drv.blockedDomain;
}

/** `arm_smmu_set_pasid`: a stage-1 domain at SSID `pasid` of the master's CD table. */
export async function setPasid(
  drv: Smmuv3Driver,
  m: Master,
  pasid: number,
  d: Smmuv3PagingDomain,
  old: Domain | undefined,
) {
  if (d.stage !== 's1') fail('EINVAL', 'only stage-1 domains attach to a PASID');
  if (pasid === 0 || pasid >= 2 ** m.ssidBits) fail('EINVAL', `PASID ${pasid} out of range`);
  const ridBlocked = m.ridDomain === undefined || m.ridDomain === drv.blockedDomain;
  if (!m.cdInSte && !ridBlocked) fail('EINVAL', 'the RID does not use a CD table');
  const pa = await allocCdPtr(drv, m, pasid);
  const ats = atsSupported(drv, m);
  prepare(drv, m, d, pasid, ats);
  await writeCd(drv, m, pasid, pa, makeS1Cd(d.cfg, drv.features, m));
  // `arm_smmu_update_ste`: move the RID onto the CD table if it is not there yet.
  if (!(m.cdInSte && m.steAtsEnabled === ats)) {
    await installSte(drv, m, makeCdtableSte(m, drv.features, ats, STRTAB_STE_1_S1DSS_TERMINATE));
    m.cdInSte = true;
    m.steAtsEnabled = ats;
  }
  await commit(drv, m, ats, pasid, old);
}

/** `arm_smmu_blocking_set_dev_pasid`: clear the CD, flush the ATC, maybe drop the CD table from the STE. */
export async function removePasid(drv: Smmuv3Driver, m: Master, pasid: number, old: Domain | undefined) {
  await clearCd(drv, m, pasid);
  if (m.atsEnabled) await atcInvMaster(drv, m, pasid);
  const prev = ours(drv, old);
  if (prev) {
    const i = prev.devices.findIndex((md) => md.master === m && md.ssid === pasid);
    if (i >= 0) prev.devices.splice(i, 1);
  }
  const ridBlocked = m.ridDomain === undefined || m.ridDomain === drv.blockedDomain;
  if ((m.cdTable?.usedSsids ?? 0) === 0 && ridBlocked) await attachRidBlocked(drv, m, m.ridDomain);
}
