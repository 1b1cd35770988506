import type { DeviceInfo } from './device-info.ts';
import { type Flusher, IOMMU_NO_PASID } from './flush.ts';
import { ALL_PAGES, descDevIotlb, descDevIotlbPasid, MAX_AGAW_PFN_WIDTH, type RawDesc } from './qi-encode.ts';
import { capMamv, capPsi } from './regs.ts';

/** `enum cache_tag_type`. Nesting tags live on a parent (S2) domain, naming the nested DIDs. */
export type CacheTagType = 'iotlb' | 'devtlb' | 'nesting_iotlb' | 'nesting_devtlb';

/** `struct cache_tag`: one cache that may hold translations of a domain. */
export interface CacheTag {
  readonly type: CacheTagType;
  readonly did: number;
  readonly pasid: number;
  /** The device, for device-TLB tags. */
  readonly info: DeviceInfo | undefined;
  users: number;
}

/**
 * A domain's cache tags (drivers/iommu/intel/cache.c): assigned on attach, and walked by every
 * flush to emit one IOTLB descriptor per (DID, PASID) and one device-TLB descriptor per
 * ATS-enabled attachment, all in one submission.
 */
export class CacheTags {
  readonly list: CacheTag[] = [];

  assign(type: CacheTagType, did: number, pasid: number, info: DeviceInfo | undefined): void {
    const tag = this.#find(type, did, pasid, info);
    if (tag) tag.users++;
    else this.list.push({ type, did, pasid, info: isDev(type) ? info : undefined, users: 1 });
  }

  unassign(type: CacheTagType, did: number, pasid: number, info: DeviceInfo | undefined): void {
    const tag = this.#find(type, did, pasid, info);
    if (!tag) return;
    if (--tag.users === 0) this.list.splice(this.list.indexOf(tag), 1);
  }

  /** `__cache_tag_assign_domain`: the IOTLB tag, and a device-TLB tag when ATS is enabled. */
  assignDomain(did: number, pasid: number, info: DeviceInfo, nesting = false): void {
    this.assign(nesting ? 'nesting_iotlb' : 'iotlb', did, pasid, info);
    if (info.atsSupported) this.assign(nesting ? 'nesting_devtlb' : 'devtlb', did, pasid, info);
  }

  unassignDomain(did: number, pasid: number, info: DeviceInfo, nesting = false): void {
    this.unassign(nesting ? 'nesting_iotlb' : 'iotlb', did, pasid, info);
    if (info.atsSupported) this.unassign(nesting ? 'nesting_devtlb' : 'devtlb', did, pasid, info);
  }

  /** `cache_tag_flush_range`'s descriptors for [start, end]. */
  rangeDescs(
    f: Flusher,
    cap: bigint,
    start: bigint,
    end: bigint,
    ih: boolean,
    usePiotlb: boolean,
  ): RawDesc[] {
    const psi = calculatePsiAlignedAddress(start, end);
    const out: RawDesc[] = [];
    for (const tag of this.list) {
      let { addr, mask } = psi;
      switch (tag.type) {
        case 'iotlb':
        case 'nesting_iotlb':
          if (usePiotlb) out.push(f.piotlb(tag.did, tag.pasid, addr, psi.pages, ih));
          else if (!capPsi(cap) || mask > capMamv(cap)) out.push(f.iotlb(tag.did, 0n, false, 0, 2));
          else out.push(f.psi(tag.did, addr, ih, mask));
          break;
        case 'nesting_devtlb':
          // No easy way to tell which nested translations an S2 change affects: flush it all.
          addr = 0n;
          mask = MAX_AGAW_PFN_WIDTH;
          out.push(devtlbDesc(tag, addr, mask));
          break;
        case 'devtlb':
          out.push(devtlbDesc(tag, addr, mask));
          break;
      }
    }
    return out;
  }

  /** `cache_tag_flush_all`'s descriptors. */
  allDescs(f: Flusher, usePiotlb: boolean): RawDesc[] {
    const out: RawDesc[] = [];
    for (const tag of this.list) {
      if (tag.type === 'iotlb' || tag.type === 'nesting_iotlb') {
        out.push(
          usePiotlb ? f.piotlb(tag.did, tag.pasid, 0n, ALL_PAGES, false) : f.iotlb(tag.did, 0n, false, 0, 2),
        );
      } else {
        const info = tag.info!;
        out.push(descDevIotlb(info.sid, info.pfsid, info.atsQdep, 0n, MAX_AGAW_PFN_WIDTH));
      }
    }
    return out;
  }

  #find(type: CacheTagType, did: number, pasid: number, info: DeviceInfo | undefined): CacheTag | undefined {
    return this.list.find(
      (t) => t.type === type && t.did === did && t.pasid === pasid && (!isDev(type) || t.info === info),
    );
  }
}

const isDev = (type: CacheTagType): boolean => type === 'devtlb' || type === 'nesting_devtlb';

function devtlbDesc(tag: CacheTag, addr: bigint, mask: number): RawDesc {
  const info = tag.info!;
  if (tag.pasid === IOMMU_NO_PASID) return descDevIotlb(info.sid, info.pfsid, info.atsQdep, addr, mask);
  return descDevIotlbPasid(info.sid, info.pfsid, tag.pasid, info.atsQdep, addr, mask);
}

/** `calculate_psi_aligned_address`: one power-of-two, naturally aligned range covering [start, end]. */
export function calculatePsiAlignedAddress(
  start: bigint,
  end: bigint,
): { addr: bigint; pages: bigint; mask: number } {
  const pages = ((end | 0xfffn) + 1n - (start & ~0xfffn)) >> 12n;
  let aligned = 1n;
  while (aligned < pages) aligned <<= 1n;
  let mask = 0;
  while (1n << BigInt(mask) < aligned) mask++;
  const pfn = start >> 12n;
  const bitmask = aligned - 1n;
  if (bitmask & pfn) {
    const endPfn = pfn + pages - 1n;
    const shared = ~(pfn ^ endPfn) & ~bitmask & ((1n << 64n) - 1n);
    mask = shared ? ffs(shared) : MAX_AGAW_PFN_WIDTH;
  }
  const align = 4096n << BigInt(mask);
  // Pages as 2^mask, so a p_iotlb built from it covers what the PSI mask covers.
  return { addr: start & ~(align - 1n), pages: 1n << BigInt(mask), mask };
}

function ffs(v: bigint): number {
  let i = 0;
  while (((v >> BigInt(i)) & 1n) === 0n) i++;
  return i;
}
