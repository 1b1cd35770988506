import {
  ATC_INV_SIZE_ALL,
  CMDQ_OP_ATC_INV,
  CMDQ_OP_TLBI_NH_ALL,
  CMDQ_OP_TLBI_NH_ASID,
  CMDQ_OP_TLBI_NH_VA,
  CMDQ_OP_TLBI_S2_IPA,
  CMDQ_OP_TLBI_S12_VMALL,
  CMDQ_TLBI_RANGE_NUM_MAX,
  type Cmd,
} from './cmd.ts';
import { CmdBatch, type DriverCmdq, type Smmuv3DriverFaults } from './driver-cmdq.ts';
import type { Smmuv3Features } from './features.ts';
import type { Master, MasterDomain } from './master.ts';

/** What invalidation needs from the driver and the domain. */
export interface InvDriver {
  readonly cmdq: DriverCmdq;
  readonly features: Smmuv3Features;
  readonly active: Smmuv3DriverFaults;
}

export interface InvDomain {
  readonly stage: 's1' | 's2';
  readonly asid: number;
  readonly vmid: number;
  readonly nestParent: boolean;
  readonly devices: readonly MasterDomain[];
}

function ffs(n: bigint): bigint {
  let s = 0n;
  while (((n >> s) & 1n) === 0n) s++;
  return s;
}

function fls(n: bigint): bigint {
  let s = 0n;
  while (n >> s !== 0n) s++;
  return s;
}

/** The fault switch `wrongInvalidationTag`: the driver confuses its ASID/VMID with the next one. */
function tag(drv: InvDriver, v: number): number {
  return drv.active.wrongInvalidationTag ? (v + 1) & 0xffff : v;
}

/**
 * `__arm_smmu_tlb_inv_range`: with IDR3.RIL, range commands (NUM/SCALE, TG=4K, TTL from the
 * granule for leaf flushes) covering `size`, five bits of page count at a time; else one
 * command per granule. One batch, one sync.
 */
async function tlbInvRange(
  drv: InvDriver,
  base: Cmd,
  iova: bigint,
  size: bigint,
  granule: bigint,
  leaf: boolean,
) {
  if (size === 0n) return;
  const end = iova + size;
  const ril = drv.features.ril;
  const tg = 12n;
  let numPages = 0n;
  let ttl = 0;
  if (ril) {
    numPages = size >> tg;
    if (leaf) ttl = 4 - Math.floor((Number(fls(granule) - 1n) - 3) / (Number(tg) - 3));
    else if ((numPages & BigInt(CMDQ_TLBI_RANGE_NUM_MAX)) === 1n) numPages++;
  }
  const batch = new CmdBatch(drv.cmdq);
  let at = iova;
  while (at < end) {
    let inv = granule;
    let cmd: Cmd = { ...base, addr: at, leaf: leaf ? 1 : 0 };
    if (ril) {
      if (numPages === 0n) break;
      const scale = ffs(numPages);
      const num = (numPages >> scale) & BigInt(CMDQ_TLBI_RANGE_NUM_MAX);
      cmd = { ...cmd, tg: 1, ttl, scale: Number(scale), num: Number(num) - 1 };
      inv = num << (scale + tg);
      numPages -= num << scale;
    }
    await batch.add(cmd);
    at += inv;
  }
  await batch.submit();
}

/**
 * `arm_smmu_tlb_inv_range_domain`: TLBI_NH_VA (stage 1, by ASID) or TLBI_S2_IPA (stage 2, by
 * VMID); a nest parent also flushes every nested S1 entry (NH_ALL of the VMID); then the ATCs.
 */
export async function tlbInvRangeDomain(
  drv: InvDriver,
  d: InvDomain,
  iova: bigint,
  size: bigint,
  granule: bigint,
  leaf: boolean,
): Promise<void> {
  if (!drv.active.skipIotlbInvalidation) {
    const base: Cmd =
      d.stage === 's1'
        ? { op: CMDQ_OP_TLBI_NH_VA, asid: tag(drv, d.asid), vmid: 0 }
        : { op: CMDQ_OP_TLBI_S2_IPA, vmid: tag(drv, d.vmid) };
    await tlbInvRange(drv, base, iova, size, granule, leaf);
    if (d.nestParent) await drv.cmdq.issue([{ op: CMDQ_OP_TLBI_NH_ALL, vmid: tag(drv, d.vmid) }], true);
  }
  // Not leaf-only: the unmap may have zapped a whole table.
  await atcInvDomain(drv, d, iova, size);
}

/** `arm_smmu_tlb_inv_context`: the domain's whole ASID (or VMID), then its ATCs. */
export async function tlbInvContext(drv: InvDriver, d: InvDomain): Promise<void> {
  if (!drv.active.skipIotlbInvalidation) {
    const cmd: Cmd =
      d.stage === 's1'
        ? { op: CMDQ_OP_TLBI_NH_ASID, asid: tag(drv, d.asid), vmid: 0 }
        : { op: CMDQ_OP_TLBI_S12_VMALL, vmid: tag(drv, d.vmid) };
    await drv.cmdq.issue([cmd], true);
  }
  await atcInvDomain(drv, d, 0n, 0n);
}

/**
 * `arm_smmu_atc_inv_to_cmd`: the smallest naturally aligned power-of-two span of 4K pages
 * covering the range (size 0: everything). Without SSV the request also hits PASID entries.
 */
export function atcInvToCmd(ssid: number, iova: bigint, size: bigint): Cmd {
  const base = { op: CMDQ_OP_ATC_INV, ssv: ssid !== 0 ? 1 : 0, ssid };
  if (size === 0n) return { ...base, size: ATC_INV_SIZE_ALL };
  let start = iova >> 12n;
  const last = (iova + size - 1n) >> 12n;
  const log2span = fls(start ^ last);
  start &= ~((1n << log2span) - 1n);
  return { ...base, addr: start << 12n, size: Number(log2span) };
}

/** `arm_smmu_atc_inv_domain`: every ATS-enabled master using the domain, one batch and a sync. */
export async function atcInvDomain(drv: InvDriver, d: InvDomain, iova: bigint, size: bigint): Promise<void> {
  if (!drv.features.ats || drv.active.skipAtcInvalidation) return;
  const users = d.devices.filter((md) => md.master.atsEnabled);
  if (users.length === 0) return;
  const batch = new CmdBatch(drv.cmdq);
  for (const md of users) await batch.add({ ...atcInvToCmd(md.ssid, iova, size), sid: md.master.sid });
  await batch.submit();
}

/** `arm_smmu_atc_inv_master`: the whole ATC of one master (for `ssid`). */
export async function atcInvMaster(drv: InvDriver, master: Master, ssid: number): Promise<void> {
  if (drv.active.skipAtcInvalidation) return;
  await drv.cmdq.issue([{ ...atcInvToCmd(ssid, 0n, 0n), sid: master.sid }], true);
}
