import type { Observable } from 'rxjs';

/**
 * The contract between the simulated iommufd core and an IOMMU driver, shaped after the
 * kernel's `iommu_ops`, `iommu_domain_ops`, `iommu_dirty_ops` and `iommufd_viommu_ops`.
 * A driver is the kernel side of one vendor; its hardware lives beside it (tables in physical
 * memory, queues, caches) and is reached only through what the driver writes.
 *
 * Errors are thrown as `IommufdError` with the errno the kernel driver returns. Every
 * operation either completes or leaves the driver's and the hardware's state as it was.
 */

export type VendorName = 'mock' | 'intel-vtd' | 'arm-smmuv3' | 'amd-vi' | 'power-tce';

/** `enum iommu_cap` values the core asks about. */
export type IommuCap = 'CACHE_COHERENCY' | 'DIRTY_TRACKING' | 'PCI_ATS_SUPPORTED' | 'NOEXEC';

/** IOMMU_READ / IOMMU_WRITE bits of a mapping's protection. */
export const IOMMU_READ = 1;
export const IOMMU_WRITE = 2;

/** A device as its driver sees it: enough to find its hardware context. */
export interface DeviceRef {
  readonly name: string;
  /** PCI requester ID: bus << 8 | devfn. */
  readonly rid: number;
  readonly bdf: string;
  /** log2 of the PASIDs the function supports (0: no PASID capability). */
  readonly pasidBits: number;
  readonly ats: boolean;
  readonly pri: boolean;
  /** Driver-private flags, e.g. the mock's MOCK_FLAGS_DEVICE_*. */
  readonly flags: number;
}

/** `iommu_resv_region`: [start, start+length-1] the IOAS must never map for this device. */
export interface ResvRegion {
  readonly start: bigint;
  readonly length: bigint;
  readonly type: 'direct' | 'direct-relaxable' | 'reserved' | 'msi' | 'sw-msi';
}

/**
 * User data passed to a driver (`struct iommu_user_data`): read lazily, because the kernel
 * driver decides the minimum length and copying a bad pointer is its EFAULT to return.
 */
export interface UserData {
  readonly type: number;
  readonly len: number;
  /** copy_from_user of `len` bytes: EFAULT on a bad pointer. */
  read(): Uint8Array;
}

/** `struct iommu_user_data_array`: HWPT_INVALIDATE entries, read one at a time. */
export interface UserDataArray {
  readonly type: number;
  readonly entryLen: number;
  readonly entryNum: number;
  /** Bytes of entry `i` (EFAULT on a bad pointer). */
  entry(i: number): Uint8Array;
}

/** What a cache invalidation handled: the kernel's `array->entry_num` write-back. */
export interface InvalidateResult {
  readonly handled: number;
  /** Set when an entry failed: its errno, returned after `handled` entries completed. */
  readonly error?: unknown;
}

export interface Domain {
  readonly kind: 'paging' | 'nested' | 'blocked' | 'identity';
  readonly driver: IommuDriver;
  /** Points a device's requester (its RID, or one PASID) at this domain. `old` is the current one. */
  attachDev(dev: DeviceRef, pasid: number | undefined, old: Domain | undefined): Promise<void>;
  /** Releases driver state; called once no device is attached. */
  free(): void;
}

export interface PagingDomain extends Domain {
  readonly kind: 'paging';
  /** Supported page sizes as a bitmap (bit n = 2^n bytes). */
  readonly pgsizeBitmap: bigint;
  /** The IOVA window the domain can translate (inclusive). */
  readonly aperture: { readonly start: bigint; readonly end: bigint };
  readonly nestParent: boolean;
  /**
   * `map_pages`: maps [iova, iova+size) to physically contiguous [pa, pa+size). A `prot` with
   * neither IOMMU_READ nor IOMMU_WRITE is EINVAL and maps nothing.
   */
  map(iova: bigint, pa: bigint, size: bigint, prot: number): void;
  /**
   * `iotlb_sync_map`: resolves once every flush the maps so far needed is done, e.g. the walk
   * flush before a table page that a large page replaced is freed.
   */
  iotlbSyncMap?(): Promise<void>;
  /**
   * `unmap_pages` followed by `iotlb_sync`: clears the translation and does not resolve until
   * the hardware has dropped every cached copy of it (IOTLB and device ATCs).
   */
  unmap(iova: bigint, size: bigint): Promise<void>;
  /** The CPU-side walk of the domain's table (`iova_to_phys`), not through any cache. */
  iovaToPhys(iova: bigint): bigint | undefined;
  readonly dirty?: DirtyOps;
}

export interface DirtyOps {
  setTracking(enable: boolean): Promise<void>;
  /**
   * Reports every dirty IOPTE in [iova, iova+length) through `record(iova, size)`, clearing the
   * hardware bits unless `noClear`.
   */
  readAndClear(
    iova: bigint,
    length: bigint,
    noClear: boolean,
    record: (iova: bigint, size: bigint) => void,
  ): Promise<void>;
}

export interface NestedDomain extends Domain {
  readonly kind: 'nested';
  readonly parent: PagingDomain;
  /** `cache_invalidate_user` on this nested domain (IOMMU_HWPT_INVALIDATE with a HWPT_NESTED id). */
  cacheInvalidateUser?(array: UserDataArray): Promise<InvalidateResult>;
}

/** The core's view of a vIOMMU object, handed to the driver that backs it. */
export interface ViommuRef {
  readonly id: number;
  readonly type: number;
  readonly parent: PagingDomain;
  /** vdevices by virtual ID (vSID, vRID, ...). */
  vdevByVirtId(virtId: bigint): VdeviceRef | undefined;
  /** `iommufd_viommu_report_event`: EOPNOTSUPP with no queue of that type. */
  reportEvent(type: number, payload: Uint8Array): void;
  /** Registers an mmap-able region; returns the offset userspace passes to mmap. */
  allocMmap(pa: bigint, length: bigint): bigint;
}

export interface VdeviceRef {
  readonly id: number;
  readonly virtId: bigint;
  readonly dev: DeviceRef;
}

export interface HwQueueRef {
  readonly id: number;
  readonly type: number;
  readonly index: number;
  readonly basePa: bigint;
  readonly length: bigint;
  /** Where the queue is in the nesting parent's IOVA space (`hw_queue->base_addr`). */
  readonly nestingParentIova: bigint;
}

/** A driver's vIOMMU instance (`iommufd_viommu_ops`). */
export interface ViommuDriverObject {
  /** Writes driver outputs into the user data (e.g. mmap offsets); returns bytes to copy back. */
  readonly outData?: Uint8Array;
  allocDomainNested?(dev: DeviceRef, flags: number, data: UserData): NestedDomain;
  cacheInvalidate?(array: UserDataArray): Promise<InvalidateResult>;
  vdeviceInit?(vdev: VdeviceRef): void;
  vdeviceDestroy?(vdev: VdeviceRef): void;
  /** `get_hw_queue_size`: 0 for an unsupported type. */
  hwQueueSupported?(type: number): boolean;
  hwQueueInit?(queue: HwQueueRef, prev: HwQueueRef | undefined): void;
  hwQueueDestroy?(queue: HwQueueRef): void;
  destroy(): void;
}

/** What a vendor's `iommu_ops` provides for iommufd. */
export interface IommuDriver {
  readonly vendor: VendorName;
  /** The IOMMU instance this driver instance drives. */
  readonly instance: string;
  capable(dev: DeviceRef, cap: IommuCap): boolean;
  /** `dev->iommu->max_pasids`: 0 when the device or the IOMMU cannot tag PASIDs. */
  maxPasids(dev: DeviceRef): number;
  /** `hw_info`: the vendor struct for IOMMU_GET_HW_INFO (EOPNOTSUPP for an unsupported type). */
  hwInfo?(dev: DeviceRef, requestedType: number): { type: number; data: Uint8Array };
  resvRegions(dev: DeviceRef): ResvRegion[];
  /** `domain_alloc_paging_flags`. `data` is present only when userspace passed some. */
  domainAllocPaging(dev: DeviceRef, flags: number, data: UserData | undefined): PagingDomain;
  /** `domain_alloc_nested` on a nest-parent paging domain (no vIOMMU). */
  domainAllocNested?(dev: DeviceRef, parent: PagingDomain, flags: number, data: UserData): NestedDomain;
  /** The domain a device sits in while not attached: all DMA blocked. */
  readonly blockedDomain: Domain;
  /** `get_viommu_size`: false for an unsupported type (EOPNOTSUPP). */
  viommuSupported?(dev: DeviceRef, type: number): boolean;
  /** `viommu_init`: `data` present only when userspace passed some. */
  viommuInit?(viommu: ViommuRef, dev: DeviceRef, data: UserData | undefined): ViommuDriverObject;
  /** `page_response` for a fault group delivered through a FAULT object. */
  pageResponse?(dev: DeviceRef, pasid: number | undefined, grpid: number, code: number): void;
  /** Faults/page requests the hardware raises for iommufd to route to FAULT/vEVENTQ objects. */
  readonly iopf$?: Observable<IopfReport>;
}

/** A page request from a device, as the driver hands it to `iommu_report_device_fault`. */
export interface IopfReport {
  readonly dev: DeviceRef;
  readonly pasid: number | undefined;
  readonly grpid: number;
  readonly perm: number;
  readonly addr: bigint;
  readonly lastPage: boolean;
}
