/**
 * The kernel's `enum iommufd_object_type` (include/linux/iommufd.h), as names.
 * `ANY` is only a lookup wildcard.
 */
export type ObjectType =
  | 'DEVICE'
  | 'HWPT_PAGING'
  | 'HWPT_NESTED'
  | 'IOAS'
  | 'ACCESS'
  | 'FAULT'
  | 'VIOMMU'
  | 'VDEVICE'
  | 'VEVENTQ'
  | 'HW_QUEUE'
  | 'SELFTEST';

/**
 * What every iommufd object embeds (`struct iommufd_object`). `users` counts the xarray's own
 * reference (1) plus one per dependent; DESTROY succeeds only at exactly 1.
 */
export abstract class IommufdObject {
  abstract readonly type: ObjectType;
  id = 0;
  users = 1;
  /** Set once `finalize` made the object visible to lookups. */
  live = false;

  /**
   * Releases what the object holds (its references on others). Called once, after removal.
   * May wait: tearing down a domain waits for the hardware to flush its caches.
   */
  abstract destroy(): void | Promise<void>;

  /** Undoes a creation that failed before finalize; by default the same as destroy. */
  abort(): void | Promise<void> {
    return this.destroy();
  }

  /** Takes a reference that keeps this object from being destroyed. */
  get(): this {
    this.users++;
    return this;
  }

  put(): void {
    if (this.users <= 1) throw new Error(`iommufd: refcount underflow on ${this.type} ${this.id}`);
    this.users--;
  }
}
