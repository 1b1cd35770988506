import type { IommufdDevice } from './device.ts';
import { fail, IommufdError } from './errno.ts';
import { hwptPagingAlloc } from './hwpt-alloc.ts';
import type { Hwpt } from './hwpt-nested.ts';
import { hwptAttach, hwptDetach, hwptPut, hwptReplace } from './igroup.ts';
import type { Ioas } from './ioas.ts';

type Change = (hwpt: Hwpt, idev: IommufdDevice, pasid: number | undefined) => Promise<Hwpt | undefined>;

const doAttach: Change = async (hwpt, idev, pasid) => {
  await hwptAttach(hwpt, idev, pasid);
  return undefined;
};

/**
 * `iommufd_device_change_pt`: attach or replace to a HWPT directly, or to an IOAS through an
 * auto-domain (an existing compatible one, else a new one). Returns the HWPT id now in use.
 */
async function changePt(idev: IommufdDevice, pasid: number | undefined, ptId: number, change: Change) {
  const pt = idev.ctx.objects.get(ptId);
  let old: Hwpt | undefined;
  let id: number;
  switch (pt.type) {
    case 'HWPT_PAGING':
    case 'HWPT_NESTED':
      old = await change(pt as Hwpt, idev, pasid);
      id = pt.id;
      break;
    case 'IOAS':
      [id, old] = await autoGetDomain(idev, pasid, pt as Ioas, change);
      break;
    default:
      fail('EINVAL', `pt_id ${ptId} is a ${pt.type}`);
  }
  if (old) await hwptPut(old);
  return id;
}

/**
 * `iommufd_device_auto_get_domain`: tries each auto-domain of the IOAS (EINVAL means
 * incompatible: try the next), else makes one. Its ID is taken even if the attach then fails.
 */
async function autoGetDomain(
  idev: IommufdDevice,
  pasid: number | undefined,
  ioas: Ioas,
  change: Change,
): Promise<[number, Hwpt | undefined]> {
  for (const hwpt of [...ioas.hwptList]) {
    if (!hwpt.autoDomain || !hwpt.live) continue;
    try {
      return [hwpt.id, await change(hwpt, idev, pasid)];
    } catch (err) {
      if (IommufdError.is(err) && err.errno === 'EINVAL') continue;
      throw err;
    }
  }
  const ctx = idev.ctx;
  const hwpt = await hwptPagingAlloc(ctx, ioas, idev, 0, undefined);
  let old: Hwpt | undefined;
  try {
    old = await change(hwpt, idev, pasid);
  } catch (err) {
    await ctx.objects.abort(hwpt);
    throw err;
  }
  hwpt.autoDomain = true;
  ctx.objects.finalize(hwpt);
  return [hwpt.id, old];
}

/** `iommufd_device_attach`: EBUSY if already attached at that PASID. */
export function iommufdDeviceAttach(
  idev: IommufdDevice,
  pasid: number | undefined,
  ptId: number,
): Promise<number> {
  return changePt(idev, pasid, ptId, doAttach);
}

/** `iommufd_device_replace`: EINVAL if not attached at that PASID. */
export function iommufdDeviceReplace(
  idev: IommufdDevice,
  pasid: number | undefined,
  ptId: number,
): Promise<number> {
  return changePt(idev, pasid, ptId, hwptReplace);
}

/** `iommufd_device_detach`: a no-op when not attached. */
export async function iommufdDeviceDetach(idev: IommufdDevice, pasid: number | undefined): Promise<void> {
  const old = await hwptDetach(idev, pasid);
  if (old) await hwptPut(old);
}

/** True if `idev` is attached at `pasid` (RID when undefined). */
export function isAttached(idev: IommufdDevice, pasid: number | undefined): boolean {
  return idev.igroup.pasidAttach.get(pasid ?? -1)?.devices.has(idev) ?? false;
}
