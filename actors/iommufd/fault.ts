import { fail } from './errno.ts';
import type { IommufdGroup } from './igroup.ts';
import type { IoctlArg } from './ioctl-table.ts';
import { IommufdObject } from './object.ts';
import type { Ucmd } from './ucmd.ts';

/** IOMMUFD_OBJ_FAULT: a queue of page requests delivered to userspace through an anon fd. */
export class Fault extends IommufdObject {
  readonly type = 'FAULT' as const;

  /** Auto-responds INVALID to pending faults of an attach handle that went away. */
  autoRespond(_igroup: IommufdGroup, _pasid: number | undefined): void {}

  destroy(): void {}
}

export function iommufdFaultAlloc(_ucmd: Ucmd<IoctlArg<'IOMMU_FAULT_QUEUE_ALLOC'>>): void | Promise<void> {
  fail('ENOTTY', 'IOMMU_FAULT_QUEUE_ALLOC is not implemented yet');
}
