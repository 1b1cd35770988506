import type { DeviceAtc } from './atc.ts';
import type { VendorName } from './driver.ts';

/** One DMA transaction as it reaches the IOMMU: a requester, an address and a direction. */
export interface DmaRequest {
  readonly rid: number;
  readonly pasid: number | undefined;
  readonly iova: bigint;
  readonly write: boolean;
  /** Privileged (PASID PRIV) and instruction-fetch attributes, when the device sets them. */
  readonly priv?: boolean;
  readonly exec?: boolean;
}

/**
 * A fault as the hardware records it. `reason` is vendor-neutral; `record` carries the vendor's
 * own fields (VT-d fault reason code, SMMUv3 event ID, AMD event code ...).
 */
export interface DmaFault {
  readonly vendor: VendorName;
  readonly iommu: string;
  readonly reason: 'blocked' | 'not-present' | 'permission' | 'bad-config' | 'aperture';
  readonly rid: number;
  readonly pasid: number | undefined;
  readonly iova: bigint;
  readonly write: boolean;
  readonly record: Readonly<Record<string, number | bigint | string>>;
}

/**
 * A successful translation. `pa` is the physical address of `iova`; the translation holds for
 * `size` bytes from `iova`'s aligned page. `cached` says whether a cache (IOTLB/ATC) served it.
 */
export interface DmaTranslation {
  readonly ok: true;
  readonly pa: bigint;
  readonly pageSize: bigint;
  readonly cached: boolean;
}

export type TranslateResult = DmaTranslation | { readonly ok: false; readonly fault: DmaFault };

/**
 * The data plane of one IOMMU instance: a plain function over its caches and tables, called per
 * page of every DMA. It never sends a machine event on a hit; faults are reported by the
 * instance through its own (control-plane) path.
 */
export interface IommuHardware {
  readonly vendor: VendorName;
  readonly name: string;
  translate(req: DmaRequest): TranslateResult;
  /**
   * A PCIe ATS Translation Request from an ATS-enabled device: the same walk as `translate`,
   * but the result is for the device to cache in its ATC. Undefined when ATS is not enabled for
   * this requester (the device then sends untranslated requests); absent when the IOMMU has no ATS.
   */
  atsTranslate?(req: DmaRequest): TranslateResult | undefined;
  /**
   * Lets the IOMMU reach a device's ATC (for its ATC invalidation commands) and know whether the
   * device has ATS enabled. Called by the host when a device is added behind this IOMMU.
   */
  registerDevice?(rid: number, dev: { readonly name: string; readonly atc: DeviceAtc | undefined }): void;
}
