import type { IommufdCtx } from './ctx.ts';
import { fail } from './errno.ts';
import type { Ioas } from './ioas.ts';
import type { IoctlArg } from './ioctl-table.ts';
import type { StructLayout } from './struct.ts';
import { IOMMU_VFIO_IOAS_CLEAR, IOMMU_VFIO_IOAS_GET, IOMMU_VFIO_IOAS_SET } from './uapi-iommufd.ts';
import type { Ucmd } from './ucmd.ts';

/**
 * `get_compat_ioas`: the IOAS that VFIO type1 container ioctls act on. Destroying it clears the
 * pointer (ioas.ts), so a set value is always live.
 */
export function getCompatIoas(ctx: IommufdCtx): Ioas {
  const ioas = ctx.vfioIoas;
  if (!ioas?.live) fail('ENODEV', 'no VFIO compat IOAS');
  return ioas;
}

/** copy_from_user of the first `minsz` bytes (EFAULT), then VFIO's `argsz < minsz` → EINVAL. */
export function readVfioArg<T extends { argsz: number }>(
  ctx: IommufdCtx,
  arg: bigint | null,
  layout: StructLayout<T>,
  minsz: number,
): T {
  if (arg === null) fail('EFAULT', 'NULL argument');
  ctx.env.host.failNth.point('usercopy', 'vfio_arg');
  const value = layout.decode(ctx.env.process.mm.read(arg, minsz));
  if (value.argsz < minsz) fail('EINVAL', `argsz ${value.argsz} < ${minsz}`);
  return value;
}

/** IOMMU_VFIO_IOAS (`iommufd_vfio_ioas`): gets, sets or clears the compat IOAS. */
export function iommufdVfioIoas(ucmd: Ucmd<IoctlArg<'IOMMU_VFIO_IOAS'>>): void {
  const { cmd, ctx } = ucmd;
  if (cmd.__reserved) fail('EOPNOTSUPP', '__reserved');
  switch (cmd.op) {
    case IOMMU_VFIO_IOAS_GET:
      cmd.ioas_id = getCompatIoas(ctx).id;
      ucmd.respond();
      return;
    case IOMMU_VFIO_IOAS_SET:
      ctx.vfioIoas = ctx.objects.get<Ioas>(cmd.ioas_id, 'IOAS');
      return;
    case IOMMU_VFIO_IOAS_CLEAR:
      ctx.vfioIoas = undefined;
      return;
    default:
      fail('EOPNOTSUPP', `op ${cmd.op}`);
  }
}
