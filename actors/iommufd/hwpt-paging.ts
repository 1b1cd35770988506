import type { PagingDomain } from '../../vendors/driver.ts';
import type { Fault } from './fault.ts';
import type { Ioas } from './ioas.ts';
import { ioptRemoveDomain } from './iopt-map.ts';
import { IommufdObject } from './object.ts';

/**
 * IOMMUFD_OBJ_HWPT_PAGING: a paging domain filled from an IOAS. An auto-domain is one the
 * kernel made for an attach to an IOAS; it dies with its last device.
 */
export class HwptPaging extends IommufdObject {
  readonly type = 'HWPT_PAGING' as const;
  /** Added to `ioas.iopt` and `ioas.hwptList`. */
  added = false;
  autoDomain = false;
  fault: Fault | undefined;

  constructor(
    readonly ioas: Ioas,
    readonly domain: PagingDomain,
    readonly nestParent: boolean,
    readonly pasidCompat: boolean,
    readonly dirtyTracking: boolean,
  ) {
    super();
    ioas.get();
  }

  async destroy(): Promise<void> {
    if (this.added) {
      const list = this.ioas.hwptList;
      list.splice(list.indexOf(this), 1);
      await ioptRemoveDomain(this.ioas.iopt, this.domain);
      this.added = false;
    }
    this.domain.free();
    this.fault?.put();
    this.ioas.put();
  }
}
