import type { IommufdCtx } from './ctx.ts';
import { fail } from './errno.ts';

/** `iommufd_vfio_ioctl`: the VFIO type1 container API on /dev/iommu. */
export async function vfioCompatIoctl(_ctx: IommufdCtx, cmd: number, _arg: bigint | null): Promise<number> {
  fail('ENOTTY', `unknown ioctl 0x${cmd.toString(16)}`);
}
