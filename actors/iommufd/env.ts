import type { IommuCore, KernelDevice } from '../kernel/iommu-core.ts';
import type { AddressSpace } from '../mem/address-space.ts';
import type { FileTable } from '../mem/file-table.ts';
import type { UserAccount } from '../mem/locked-vm.ts';
import type { FailNth } from '../runtime/fail-nth.ts';
import type { FaultSwitches } from '../runtime/faults.ts';
import type { Scheduler } from '../runtime/scheduler.ts';
import type { Tracer } from '../runtime/trace.ts';

/** What the iommufd core needs of the process that opened /dev/iommu (`current`). */
export interface ProcessEnv {
  readonly name: string;
  readonly pid: number;
  readonly mm: AddressSpace;
  readonly files: FileTable;
  /** root: CAP_SYS_RESOURCE, CAP_IPC_LOCK. */
  readonly privileged: boolean;
  /** RLIMIT_MEMLOCK in pages; undefined is RLIM_INFINITY. */
  readonly memlockLimitPages: bigint | undefined;
  readonly user: UserAccount;
}

/** What it needs of the host kernel it runs in. */
export interface HostEnv {
  readonly name: string;
  /** CONFIG_IOMMUFD_TEST: IOMMU_TEST_CMD and the mock IOMMU exist. */
  readonly selftest: boolean;
  readonly core: IommuCore;
  readonly scheduler: Scheduler;
  readonly tracer: Tracer;
  readonly faults: FaultSwitches;
  /** fail_nth injection points of the core (`farm.failNth`). */
  readonly failNth: FailNth;
  /** Numbers iommufd_ctx instances of this host (for traces), so a seeded run replays exactly. */
  nextCtxId(): number;
  /** CONFIG_IOMMUFD_TEST's mock bus: creates and removes mock devices on the mock IOMMU. */
  readonly mockBus?: MockBus;
}

export interface MockBus {
  createDevice(flags: number): KernelDevice;
  destroyDevice(kdev: KernelDevice): void;
}

export interface IommufdEnv {
  readonly process: ProcessEnv;
  readonly host: HostEnv;
}
