import type { Domain } from '../../vendors/driver.ts';
import type { IommuGroup } from '../kernel/iommu-core.ts';
import type { IommufdCtx } from './ctx.ts';
import type { IommufdDevice } from './device.ts';
import { fail } from './errno.ts';
import type { Hwpt } from './hwpt-nested.ts';
import type { HwptPaging } from './hwpt-paging.ts';

/** The key of the RID attachment in `pasidAttach` (IOMMU_NO_PASID). */
export const NO_PASID = -1;

/** The PASID value Linux reserves for requests without one. */
const IOMMU_NO_PASID = 0;

/** One attachment point of a group: the HWPT and the devices that attached to it. */
export interface Attach {
  hwpt: Hwpt;
  readonly devices: Set<IommufdDevice>;
}

/**
 * `struct iommufd_group`: a ctx's view of an iommu_group. Attachment is per group and per PASID:
 * the first device performs the real attach, the rest must name the same HWPT.
 */
export class IommufdGroup {
  readonly devices = new Set<IommufdDevice>();
  readonly pasidAttach = new Map<number, Attach>();

  constructor(
    readonly ctx: IommufdCtx,
    readonly group: IommuGroup,
  ) {}
}

export function igroupFor(ctx: IommufdCtx, group: IommuGroup): IommufdGroup {
  let ig = ctx.igroups.get(group);
  if (!ig) {
    ctx.env.host.failNth.point('alloc', 'iommufd_group');
    ig = new IommufdGroup(ctx, group);
    ctx.igroups.set(group, ig);
  }
  return ig;
}

const key = (pasid: number | undefined) => pasid ?? NO_PASID;
const attachKey = (pasid: number | undefined) => (pasid === undefined ? 'rid' : (`pasid:${pasid}` as const));

function pagingOf(hwpt: Hwpt): HwptPaging | undefined {
  return hwpt.type === 'HWPT_PAGING' ? hwpt : undefined;
}

/** `iommufd_hwpt_pasid_compat`. */
function checkPasidCompat(igroup: IommufdGroup, hwpt: Hwpt, pasid: number | undefined): void {
  if (pasid === undefined) {
    const pasidsAttached = [...igroup.pasidAttach.keys()].some((k) => k !== NO_PASID);
    if (!hwpt.pasidCompat && pasidsAttached)
      fail('EINVAL', 'PASIDs are attached; the RID hwpt must be PASID-compatible');
  } else {
    if (!hwpt.pasidCompat) fail('EINVAL', 'hwpt was not allocated with IOMMU_HWPT_ALLOC_PASID');
    const rid = igroup.pasidAttach.get(NO_PASID);
    if (rid && !rid.hwpt.pasidCompat) fail('EINVAL', 'the RID hwpt is not PASID-compatible');
  }
}

/** `iopt_table_enforce_dev_resv_regions` for one device; all or nothing. */
function reserveDeviceRegions(idev: IommufdDevice, paging: HwptPaging): void {
  const iopt = paging.ioas.iopt;
  try {
    for (const r of idev.kdev.iommu.driver.resvRegions(idev.dev)) {
      if (r.type === 'direct-relaxable') continue;
      iopt.reserve(r.start, r.start + r.length - 1n, idev);
    }
  } catch (err) {
    iopt.unreserve(idev);
    throw err;
  }
}

/**
 * `iommu_attach_device_pasid`: IOMMU_NO_PASID (0) is the RID's and never a PASID attachment
 * (EINVAL, before any driver sees it: on AMD-Vi GCR3 slot 0 is where the RID's v2 table lives);
 * the PASID must be below max_pasids of every PASID-capable device of the group, and the
 * attaching device must be able to tag PASIDs at all (spec §2.21).
 */
function checkMaxPasids(idev: IommufdDevice, pasid: number): void {
  if (pasid === IOMMU_NO_PASID) fail('EINVAL', 'PASID 0 is IOMMU_NO_PASID');
  if (idev.kdev.iommu.driver.maxPasids(idev.dev) === 0)
    fail('EINVAL', `${idev.dev.name} has no PASID support`);
  for (const kdev of idev.igroup.group.devices) {
    const max = kdev.iommu.driver.maxPasids(kdev.ref);
    if (max > 0 && pasid >= max) fail('EINVAL', `PASID ${pasid} >= max_pasids ${max} of ${kdev.name}`);
  }
}

/**
 * `__iommu_attach_group`'s compatibility check: a domain belongs to one IOMMU instance (its
 * driver object here), so a device behind another instance gets EINVAL, which makes the
 * auto-domain search move on to the next HWPT (spec §2.21).
 */
function checkDomainCompatible(hwpt: Hwpt, idev: IommufdDevice): void {
  if (hwpt.domain.driver !== idev.kdev.iommu.driver) {
    fail('EINVAL', `hwpt ${hwpt.id} belongs to another IOMMU than ${idev.dev.name}'s`);
  }
}

function domainOf(hwpt: Hwpt): Domain {
  return hwpt.domain;
}

/** `iommufd_hw_pagetable_attach`: joins (or performs) the group's attachment at `pasid`. */
export async function hwptAttach(hwpt: Hwpt, idev: IommufdDevice, pasid: number | undefined): Promise<void> {
  const igroup = idev.igroup;
  checkPasidCompat(igroup, hwpt, pasid);
  const existing = igroup.pasidAttach.get(key(pasid));
  if (existing?.devices.has(idev)) fail('EBUSY', `${idev.dev.name} is already attached`);
  if (existing && existing.hwpt !== hwpt) fail('EINVAL', 'other devices of the group use a different hwpt');
  const paging = pagingOf(hwpt);
  const reserve = paging !== undefined && pasid === undefined;
  if (reserve) reserveDeviceRegions(idev, paging);
  if (!existing) {
    try {
      idev.ctx.env.host.failNth.point('alloc', 'attach_handle');
      checkDomainCompatible(hwpt, idev);
      if (pasid !== undefined) checkMaxPasids(idev, pasid);
      await idev.ctx.env.host.core.setGroupDomain(igroup.group, pasid, domainOf(hwpt));
    } catch (err) {
      if (reserve) paging.ioas.iopt.unreserve(idev);
      throw err;
    }
    igroup.pasidAttach.set(key(pasid), { hwpt, devices: new Set([idev]) });
  } else existing.devices.add(idev);
  hwpt.get();
  idev.get();
  idev.kdev.notify({ type: 'ATTACH', key: attachKey(pasid), hwpt: hwpt.id });
}

/**
 * `iommufd_device_do_replace`: moves the whole group's attachment at `pasid` to `hwpt`.
 * Returns the previous hwpt, which the caller puts (an auto-domain may die there).
 */
export async function hwptReplace(
  hwpt: Hwpt,
  idev: IommufdDevice,
  pasid: number | undefined,
): Promise<Hwpt | undefined> {
  const igroup = idev.igroup;
  const attach = igroup.pasidAttach.get(key(pasid));
  if (!attach?.devices.has(idev)) fail('EINVAL', `${idev.dev.name} is not attached`);
  const old = attach.hwpt;
  if (old === hwpt) return undefined;
  checkPasidCompat(igroup, hwpt, pasid);
  const paging = pagingOf(hwpt);
  const oldPaging = pagingOf(old);
  const moveResv = paging !== undefined && pasid === undefined && paging.ioas !== oldPaging?.ioas;
  const reserved: IommufdDevice[] = [];
  try {
    if (moveResv) {
      for (const dev of attach.devices) {
        reserveDeviceRegions(dev, paging);
        reserved.push(dev);
      }
    }
    checkDomainCompatible(hwpt, idev);
    await idev.ctx.env.host.core.setGroupDomain(igroup.group, pasid, domainOf(hwpt));
  } catch (err) {
    for (const dev of reserved) paging!.ioas.iopt.unreserve(dev);
    throw err;
  }
  if (oldPaging && pasid === undefined && oldPaging.ioas !== paging?.ioas) {
    for (const dev of attach.devices) oldPaging.ioas.iopt.unreserve(dev);
  }
  old.fault?.autoRespond(igroup, pasid);
  attach.hwpt = hwpt;
  for (let i = 0; i < attach.devices.size; i++) {
    hwpt.get();
    old.put();
  }
  for (const dev of attach.devices) dev.kdev.notify({ type: 'ATTACH', key: attachKey(pasid), hwpt: hwpt.id });
  return old;
}

/** `iommufd_hw_pagetable_detach`: leaves the attachment; the last device out blocks DMA. */
export async function hwptDetach(idev: IommufdDevice, pasid: number | undefined): Promise<Hwpt | undefined> {
  const igroup = idev.igroup;
  const attach = igroup.pasidAttach.get(key(pasid));
  if (!attach?.devices.has(idev)) return undefined;
  const hwpt = attach.hwpt;
  attach.devices.delete(idev);
  if (attach.devices.size === 0) {
    await idev.ctx.env.host.core.blockGroup(igroup.group, pasid);
    igroup.pasidAttach.delete(key(pasid));
    hwpt.fault?.autoRespond(igroup, pasid);
  }
  const paging = pagingOf(hwpt);
  if (paging && pasid === undefined) paging.ioas.iopt.unreserve(idev);
  if (!idev.ctx.env.host.faults.leakHwptReference) hwpt.put();
  idev.put();
  idev.kdev.notify({ type: 'DETACH', key: attachKey(pasid) });
  return hwpt;
}

/**
 * `iommufd_hw_pagetable_put`: an auto-domain whose last user went away is destroyed (its ID
 * then reads as ENOENT); explicit HWPTs stay.
 */
export async function hwptPut(hwpt: Hwpt): Promise<void> {
  if (hwpt.type === 'HWPT_PAGING' && hwpt.autoDomain && hwpt.live && hwpt.users === 1) {
    hwpt.ioas.ctx.objects.remove(hwpt);
    await hwpt.destroy();
  }
}

/** Detaches `idev` everywhere (unbind). */
export async function detachAll(idev: IommufdDevice): Promise<void> {
  const keys = [...idev.igroup.pasidAttach.entries()].filter(([, a]) => a.devices.has(idev)).map(([k]) => k);
  // PASIDs first: the RID hwpt must stay PASID-compatible while any PASID is attached.
  keys.sort((a, b) => b - a);
  let error: unknown;
  for (const k of keys) {
    try {
      const old = await hwptDetach(idev, k === NO_PASID ? undefined : k);
      if (old) await hwptPut(old);
    } catch (err) {
      error ??= err; // every other attachment still goes
    }
  }
  if (error !== undefined) throw error;
}
