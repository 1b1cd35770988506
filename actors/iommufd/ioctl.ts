import type { IommufdCtx } from './ctx.ts';
import { fail, IommufdError } from './errno.ts';
import { HANDLERS } from './handlers.ts';
import { IOCTL_TABLE, type IoctlEntry } from './ioctl-table.ts';
import { IOMMUFD_CMD_BASE } from './uapi-ioctls.ts';
import { Ucmd } from './ucmd.ts';
import { vfioCompatIoctl } from './vfio-compat.ts';

const BY_NR = new Map<number, IoctlEntry>(IOCTL_TABLE.map((e) => [e.nr, e]));
const LAST_NR_SELFTEST = IOMMUFD_CMD_BASE + 32;
const LAST_NR = Math.max(...IOCTL_TABLE.filter((e) => e.name !== 'IOMMU_TEST_CMD').map((e) => e.nr));

/**
 * `iommufd_fops_ioctl` in the kernel's order: numbers outside the table go to VFIO compat; the
 * `size` word is read before the number is validated (so a NULL arg is EFAULT even for an
 * unused slot); then min_size, copy_struct_from_user, execute.
 */
export async function dispatchIoctl(ctx: IommufdCtx, cmd: number, arg: bigint | null): Promise<number> {
  const nr = cmd & 0xff;
  const last = ctx.env.host.selftest ? LAST_NR_SELFTEST : LAST_NR;
  if (nr < IOMMUFD_CMD_BASE || nr > last) return vfioCompatIoctl(ctx, cmd, arg);
  const mm = ctx.env.process.mm;
  if (arg === null) fail('EFAULT', 'NULL argument');
  ctx.env.host.failNth.point('usercopy', 'ioctl_size');
  const userSize = readU32(mm.read(arg, 4));
  const entry = BY_NR.get(nr);
  if (!entry || entry.cmd !== cmd) fail('ENOTTY', `unknown iommufd ioctl 0x${cmd.toString(16)}`);
  if (userSize < entry.minSize) fail('EINVAL', `size ${userSize} < min_size ${entry.minSize}`);
  const bytes = copyStructFromUser(ctx, arg, userSize, entry.layout.sizeof);
  const handler = HANDLERS[entry.name] as ((u: Ucmd<object>) => unknown) | undefined;
  if (!handler) fail('ENOTTY', `${entry.name} is not implemented`);
  const ucmd = new Ucmd<object>(ctx, entry.layout.decode(bytes), entry.layout as never, userSize, arg);
  let ret: unknown;
  try {
    ret = await handler(ucmd);
  } catch (err) {
    if (ucmd.newObj) await ctx.objects.abort(ucmd.newObj);
    ucmd.settle(false);
    if (IommufdError.is(err) && err.ioctl === undefined) {
      err.ioctl = entry.name;
      err.message = `${entry.name}: ${err.message}`;
    }
    throw err;
  }
  if (ucmd.newObj) ctx.objects.finalize(ucmd.newObj);
  ucmd.settle(true);
  return typeof ret === 'number' ? ret : 0;
}

/**
 * `copy_struct_from_user`: a short struct is zero-extended; a longer one must be zero past
 * what the kernel knows, else E2BIG; unreadable memory is EFAULT.
 */
export function copyStructFromUser(ctx: IommufdCtx, va: bigint, userSize: number, ksize: number): Uint8Array {
  const mm = ctx.env.process.mm;
  ctx.env.host.failNth.point('usercopy', 'copy_struct_from_user');
  if (userSize <= ksize) return mm.read(va, userSize);
  const out = mm.read(va, ksize);
  checkZeroedUser(ctx, va + BigInt(ksize), userSize - ksize);
  return out;
}

/**
 * `check_zeroed_user`: E2BIG at the first non-zero byte; EFAULT if the range is not readable
 * first. Untouched anonymous memory scans as the zero page, so a huge zero tail is cheap.
 */
export function checkZeroedUser(ctx: IommufdCtx, va: bigint, length: number): void {
  if (ctx.env.process.mm.firstNonZero(va, length) >= 0) fail('E2BIG', 'non-zero bytes past the known struct');
}

/** The kernel macro name of an iommufd ioctl number, or its hex value. */
export function ioctlName(cmd: number): string {
  const e = BY_NR.get(cmd & 0xff);
  return e && e.cmd === cmd ? e.name : `0x${cmd.toString(16)}`;
}

function readU32(b: Uint8Array): number {
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}
