import type { IoctlArg } from './ioctl-table.ts';
import type { Ucmd } from './ucmd.ts';

/** IOMMU_DESTROY: ENOENT for a missing ID, EBUSY while anything references the object. */
export async function iommufdDestroy(ucmd: Ucmd<IoctlArg<'IOMMU_DESTROY'>>): Promise<void> {
  const obj = ucmd.ctx.objects.removeUser(ucmd.cmd.id);
  await obj.destroy();
}
