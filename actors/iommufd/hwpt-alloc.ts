import type { UserData } from '../../vendors/driver.ts';
import type { IommufdCtx } from './ctx.ts';
import type { IommufdDevice } from './device.ts';
import { fail } from './errno.ts';
import type { Fault } from './fault.ts';
import { HwptNested } from './hwpt-nested.ts';
import { HwptPaging } from './hwpt-paging.ts';
import type { Ioas } from './ioas.ts';
import type { IoctlArg } from './ioctl-table.ts';
import { ioptAddDomain } from './iopt-map.ts';
import {
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING as DIRTY,
  IOMMU_HWPT_FAULT_ID_VALID as FAULT_ID_VALID,
  IOMMU_HWPT_DATA_NONE,
  IOMMU_HWPT_ALLOC_NEST_PARENT as NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID as PASID,
} from './uapi-iommufd.ts';
import type { Ucmd } from './ucmd.ts';
import type { Viommu } from './viommu.ts';

/**
 * `iommufd_hwpt_paging_alloc`: a paging domain from the device's driver, added to the IOAS.
 * The object is returned allocated but not finalized; the caller finalizes or aborts it.
 */
export async function hwptPagingAlloc(
  ctx: IommufdCtx,
  ioas: Ioas,
  idev: IommufdDevice,
  flags: number,
  data: UserData | undefined,
): Promise<HwptPaging> {
  const driver = idev.kdev.iommu.driver;
  if (flags & ~(NEST_PARENT | DIRTY | FAULT_ID_VALID | PASID)) fail('EOPNOTSUPP', 'hwpt flags');
  if (flags & DIRTY && !driver.capable(idev.dev, 'DIRTY_TRACKING')) fail('EOPNOTSUPP', 'no dirty tracking');
  if (flags & FAULT_ID_VALID && flags & NEST_PARENT) fail('EOPNOTSUPP', 'a nest parent cannot take faults');
  // The ID is taken before the driver runs, as __iommufd_object_alloc does.
  const id = ctx.objects.reserveId();
  let hwpt: HwptPaging;
  try {
    ctx.env.host.failNth.point('driver', 'domain_alloc_paging');
    const domain = driver.domainAllocPaging(idev.dev, flags & ~FAULT_ID_VALID, data);
    hwpt = new HwptPaging(
      ioas,
      domain,
      (flags & NEST_PARENT) !== 0,
      (flags & PASID) !== 0,
      (flags & DIRTY) !== 0,
    );
  } catch (err) {
    ctx.objects.releaseId(id);
    throw err;
  }
  hwpt.id = id;
  try {
    await ioptAddDomain(ioas.iopt, hwpt.domain);
  } catch (err) {
    await ctx.objects.abort(hwpt);
    throw err;
  }
  hwpt.added = true;
  ioas.hwptList.push(hwpt);
  return hwpt;
}

export async function iommufdHwptAlloc(ucmd: Ucmd<IoctlArg<'IOMMU_HWPT_ALLOC'>>): Promise<void> {
  const { cmd, ctx } = ucmd;
  if (cmd.__reserved) fail('EOPNOTSUPP', '__reserved');
  const none = cmd.data_type === IOMMU_HWPT_DATA_NONE;
  if ((none && cmd.data_len) || (!none && !cmd.data_len)) fail('EINVAL', 'data_type and data_len disagree');
  const idev = ctx.objects.get<IommufdDevice>(cmd.dev_id, 'DEVICE');
  const pt = ctx.objects.tryGet(cmd.pt_id);
  if (!pt) fail('EINVAL', `pt_id ${cmd.pt_id} does not exist`);
  const mm = ctx.env.process.mm;
  const data: UserData = {
    type: cmd.data_type,
    len: cmd.data_len,
    read: () => {
      ctx.env.host.failNth.point('usercopy', 'hwpt_user_data');
      return mm.read(cmd.data_uptr, cmd.data_len);
    },
  };
  let hwpt: HwptPaging | HwptNested;
  if (pt.type === 'IOAS') {
    hwpt = await hwptPagingAlloc(ctx, pt as Ioas, idev, cmd.flags, cmd.data_len ? data : undefined);
  } else if (pt.type === 'HWPT_PAGING') {
    hwpt = hwptNestedAlloc(ctx, pt as HwptPaging, idev, cmd.flags, data);
  } else if (pt.type === 'VIOMMU') {
    hwpt = viommuAllocHwptNested(ctx, pt as Viommu, idev, cmd.flags, data);
  } else fail('EINVAL', `pt_id ${cmd.pt_id} is a ${pt.type}`);
  ucmd.newObj = hwpt;
  if (cmd.flags & FAULT_ID_VALID) {
    const fault = ctx.objects.get<Fault>(cmd.fault_id, 'FAULT');
    hwpt.fault = fault.get();
  }
  cmd.out_hwpt_id = hwpt.id;
  ucmd.respond();
}

/** `iommufd_hwpt_nested_alloc`: a nested domain on a nest-parent HWPT (no vIOMMU). */
function hwptNestedAlloc(
  ctx: IommufdCtx,
  parent: HwptPaging,
  idev: IommufdDevice,
  flags: number,
  data: UserData,
) {
  const driver = idev.kdev.iommu.driver;
  if (flags & ~(FAULT_ID_VALID | PASID) || !data.len || !driver.domainAllocNested) {
    fail('EOPNOTSUPP', 'nested allocation not supported with these flags/data');
  }
  if (parent.autoDomain || !parent.nestParent || parent.domain.driver !== driver) {
    fail('EINVAL', 'parent is not a nest parent of this IOMMU');
  }
  const id = ctx.objects.reserveId();
  try {
    ctx.env.host.failNth.point('driver', 'domain_alloc_nested');
    const domain = driver.domainAllocNested(idev.dev, parent.domain, flags & ~FAULT_ID_VALID, data);
    const hwpt = new HwptNested(domain, parent, undefined, (flags & PASID) !== 0);
    hwpt.id = id;
    return hwpt;
  } catch (err) {
    ctx.objects.releaseId(id);
    throw err;
  }
}

/** `iommufd_viommu_alloc_hwpt_nested`: a nested domain owned by a vIOMMU. */
function viommuAllocHwptNested(
  ctx: IommufdCtx,
  viommu: Viommu,
  idev: IommufdDevice,
  flags: number,
  data: UserData,
) {
  if (viommu.iommu !== idev.kdev.iommu) fail('EINVAL', 'vIOMMU is on another IOMMU instance');
  if (flags & ~(FAULT_ID_VALID | PASID)) fail('EOPNOTSUPP', 'flags');
  if (!data.len) fail('EOPNOTSUPP', 'no data');
  const ops = viommu.ops;
  if (!ops.allocDomainNested) fail('EOPNOTSUPP', 'vIOMMU cannot allocate nested domains');
  const id = ctx.objects.reserveId();
  try {
    ctx.env.host.failNth.point('driver', 'viommu_alloc_domain_nested');
    const domain = ops.allocDomainNested(idev.dev, flags & ~FAULT_ID_VALID, data);
    const hwpt = new HwptNested(domain, viommu.hwpt, viommu, (flags & PASID) !== 0);
    hwpt.id = id;
    return hwpt;
  } catch (err) {
    ctx.objects.releaseId(id);
    throw err;
  }
}
