import { type AccessPin, accessUnpinPages, type IommufdAccess } from '../../actors/iommufd/access.ts';
import { AnonObjectFile } from '../../actors/iommufd/anon-fd.ts';
import type { IommufdCtx } from '../../actors/iommufd/ctx.ts';
import { fail } from '../../actors/iommufd/errno.ts';
import { ULONG_MAX } from '../../actors/iommufd/io-pagetable.ts';

/** One IOMMU_TEST_OP_ACCESS_PAGES pin (`struct selftest_access_item`). */
export interface AccessItem {
  readonly id: number;
  readonly iova: bigint;
  readonly length: bigint;
  readonly pin: AccessPin;
}

/**
 * `struct selftest_access`: the anon fd IOMMU_TEST_OP_CREATE_ACCESS returns. Once published it
 * holds the selftest driver's reference on the ACCESS object (so IOMMU_DESTROY of the access ID
 * is EBUSY) and one on the ctx's file (`iommufd_access_create` takes it), and it owns the pinned
 * items. Closing it unpins them and destroys the access.
 */
export class SelftestAccessFile extends AnonObjectFile {
  readonly kind = 'iommufd-selftest-access';
  /** In creation order (the kernel's list). */
  readonly items = new Map<number, AccessItem>();
  #nextId = 0;
  #live = false;

  constructor(readonly access: IommufdAccess) {
    super(access);
  }

  override publish(): void {
    super.publish();
    this.#live = true;
  }

  /**
   * `iommufd_test_access_unmap`, the access's unmap callback: every item intersecting
   * [iova, iova+length) is unpinned and forgotten.
   */
  unmap(iova: bigint, length: bigint): void {
    const last = iova + length - 1n;
    for (const item of [...this.items.values()]) {
      if (iova > item.iova + item.length - 1n || last < item.iova) continue;
      this.items.delete(item.id);
      accessUnpinPages(this.access, item.pin);
    }
  }

  addItem(iova: bigint, length: bigint, pin: AccessPin): AccessItem {
    const item: AccessItem = { id: this.#nextId++, iova, length, pin };
    this.items.set(item.id, item);
    return item;
  }

  /** `iommufd_test_access_item_destroy`: ENOENT for an unknown item. */
  destroyItem(id: number): void {
    const item = this.items.get(id);
    if (!item) fail('ENOENT', `no access pages item ${id}`);
    this.items.delete(id);
    accessUnpinPages(this.access, item.pin);
  }

  /**
   * `iommufd_test_staccess_release`: unpin everything, then `iommufd_access_destroy`. The ctx
   * reference goes last, since it may be what tears the ctx down. Before publication (a failed
   * CREATE_ACCESS) the dispatcher aborts the object and there is nothing to do.
   */
  override release(): void {
    if (this.#live) {
      this.#live = false;
      this.unmap(0n, ULONG_MAX);
      const { access } = this;
      if (access.live) {
        access.ctx.objects.remove(access);
        access.destroy();
      }
    }
    super.release();
  }
}

/** `iommufd_access_get`: the selftest access behind an fd, EBADFD for anything else. */
export function selftestAccessFile(ctx: IommufdCtx, fd: number): SelftestAccessFile {
  const files = ctx.env.process.files;
  const file = files.has(fd) ? files.get(fd) : undefined;
  if (!(file instanceof SelftestAccessFile)) fail('EBADFD', `fd ${fd} is not a selftest access`);
  return file;
}
