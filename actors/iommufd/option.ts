import type { IommufdCtx } from './ctx.ts';
import { fail } from './errno.ts';
import type { Ioas } from './ioas.ts';
import type { IoctlArg } from './ioctl-table.ts';
import {
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_GET,
  IOMMU_OPTION_OP_SET,
  IOMMU_OPTION_RLIMIT_MODE,
} from './uapi-iommufd.ts';
import type { Ucmd } from './ucmd.ts';

type OptionCmd = IoctlArg<'IOMMU_OPTION'>;

/**
 * IOMMU_OPTION (`iommufd_option`): RLIMIT_MODE is global to the ctx, HUGE_PAGES belongs to one
 * IOAS. On success the kernel copies back `val64` alone, not the whole struct.
 */
export function iommufdOption(ucmd: Ucmd<OptionCmd>): void {
  const { cmd, ctx } = ucmd;
  if (cmd.__reserved) fail('EOPNOTSUPP', '__reserved');
  switch (cmd.option_id) {
    case IOMMU_OPTION_RLIMIT_MODE:
      optionRlimitMode(cmd, ctx);
      break;
    case IOMMU_OPTION_HUGE_PAGES:
      ioasOptionHugePages(cmd, ctx.objects.get<Ioas>(cmd.object_id, 'IOAS'));
      break;
    default:
      fail('EOPNOTSUPP', `option_id ${cmd.option_id}`);
  }
  const val = new Uint8Array(8);
  new DataView(val.buffer).setBigUint64(0, cmd.val64, true);
  ctx.env.host.failNth.point('usercopy', 'option_val64');
  ctx.env.process.mm.write(ucmd.ubuffer + BigInt(ucmd.layout.offsetof('val64')), val);
}

/** `iommufd_option_rlimit_mode`: the mode may only change while the ctx holds nothing at all. */
function optionRlimitMode(cmd: OptionCmd, ctx: IommufdCtx): void {
  if (cmd.object_id) fail('EOPNOTSUPP', 'RLIMIT_MODE takes no object');
  if (cmd.op === IOMMU_OPTION_OP_GET) {
    cmd.val64 = ctx.accountMode === 'mm' ? 1n : 0n;
    return;
  }
  if (cmd.op !== IOMMU_OPTION_OP_SET) fail('EOPNOTSUPP', `op ${cmd.op}`);
  if (!ctx.env.process.privileged) fail('EPERM', 'RLIMIT_MODE needs CAP_SYS_RESOURCE');
  // xa_empty(): reserved IDs and tombstones keep the xarray non-empty too.
  if (!ctx.objects.isEmpty) fail('EBUSY', 'the ctx already has objects');
  if (cmd.val64 === 0n) ctx.accountMode = 'user';
  else if (cmd.val64 === 1n) ctx.accountMode = 'mm';
  else fail('EINVAL', `RLIMIT_MODE ${cmd.val64}`);
}

/** `iommufd_ioas_option_huge_pages`. */
function ioasOptionHugePages(cmd: OptionCmd, ioas: Ioas): void {
  if (cmd.op === IOMMU_OPTION_OP_GET) {
    cmd.val64 = ioas.iopt.disableLargePages ? 0n : 1n;
    return;
  }
  if (cmd.op !== IOMMU_OPTION_OP_SET) fail('EOPNOTSUPP', `op ${cmd.op}`);
  if (cmd.val64 === 0n) ioptDisableLargePages(ioas);
  else if (cmd.val64 === 1n) ioptEnableLargePages(ioas);
  else fail('EINVAL', `HUGE_PAGES ${cmd.val64}`);
}

/**
 * `iopt_disable_large_pages`: refused once a domain may already hold large IOPTEs (a domain and
 * an area); raising the alignment to PAGE_SIZE may find a misaligned area (EADDRINUSE), and then
 * the flag is reverted.
 */
export function ioptDisableLargePages(ioas: Ioas): void {
  const iopt = ioas.iopt;
  if (iopt.disableLargePages) return;
  if (iopt.domains.length > 0 && iopt.areas.size > 0) fail('EINVAL', 'domains already hold mappings');
  iopt.disableLargePages = true;
  try {
    iopt.raiseAlignment(iopt.requiredAlignment());
  } catch (err) {
    iopt.disableLargePages = false;
    throw err;
  }
}

/** `iopt_enable_large_pages`: only ever lowers the alignment, so it cannot fail. */
export function ioptEnableLargePages(ioas: Ioas): void {
  ioas.iopt.disableLargePages = false;
  ioas.iopt.recalcAlignment();
}
