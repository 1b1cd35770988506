import type { VendorName } from '../../vendors/driver.ts';
import type { TopologySpec } from '../arbitraries/topology.ts';

/**
 * The model a property run checks the farm against: a deliberate simplification of iommufd
 * (range lists, reference counts, ownership), never a copy of its code. Commands read it in
 * `check` (to pick targets by position) and update it from what the real call returned.
 */
export interface Model {
  readonly topology: TopologySpec;
  readonly procs: ProcModel[];
  readonly devices: DeviceModel[];
  /** Keyed by `GroupModel.key`. */
  readonly groups: Map<string, GroupModel>;
  /** Open iommufd contexts, keyed by `CtxModel.key`. */
  readonly ctxs: Map<number, CtxModel>;
  /** Ranges unmapped recently (newest last): DMA commands aim there to catch stale translations. */
  readonly unmapped: UnmappedRange[];
  /** What groups translated through before a replace moved them to another IOAS (newest last). */
  readonly previous: PreviousDomain[];
  /** What a DMA may also see while a state-changing call is in flight. */
  window: Window | undefined;
  nextCtxKey: number;
  nextPagesId: number;
}

export interface ProcModel {
  readonly index: number;
  readonly host: number;
  readonly name: string;
  /** Key of its open iommufd, if any. */
  ctx: number | undefined;
}

export interface DeviceModel {
  readonly index: number;
  readonly host: number;
  readonly name: string;
  readonly iommu: string;
  readonly vendor: VendorName;
  readonly group: string;
  /** log2 of the PASIDs it can tag (0: none). */
  readonly pasidBits: number;
  readonly pasid: boolean;
  /** Ctx key it is bound to (through its VFIO cdev), if any. */
  bound: number | undefined;
}

/** `NO_PASID`: the RID attachment's key among a group's attachments. */
export const RID = -1;

/** A domain the group's devices currently translate through, as the IOMMU core set it. */
export interface GroupDomain {
  readonly ctx: number;
  readonly hwpt: number;
}

export interface GroupModel {
  readonly key: string;
  readonly host: number;
  readonly devices: number[];
  /** By PASID (RID for the requester ID); absent means blocked. */
  readonly domains: Map<number, GroupDomain>;
}

/** One `iopt_area`: [iova, iova+length) onto process memory, sharing `pages` with IOAS_COPY twins. */
export interface AreaModel {
  readonly iova: bigint;
  readonly length: bigint;
  /** IOMMU_READ | IOMMU_WRITE. */
  readonly prot: number;
  /** Identity of the pinned-pages object (one per MAP; COPY shares it). */
  readonly pages: number;
  /** User VA of the area's first byte. */
  readonly uva: bigint;
  /** User VA of the pages object's first byte (accounting counts its 4 KiB pages). */
  readonly pagesVa: bigint;
  readonly proc: number;
}

export interface IoasModel {
  readonly id: number;
  /** Sorted by IOVA, never overlapping. */
  areas: AreaModel[];
}

export interface HwptModel {
  readonly id: number;
  readonly kind: 'paging' | 'nested';
  /** The IOAS whose areas it translates (a nested HWPT: its parent's). */
  readonly ioas: number;
  /** Nested: the parent HWPT_PAGING. */
  readonly parent: number | undefined;
  /** Made by an attach to an IOAS; dies with its last attachment. */
  readonly auto: boolean;
  readonly pasidCompat: boolean;
  readonly nestParent: boolean;
  /** DMA through it reaches the IOAS's areas (a nested HWPT whose stage 1 the vendor profile cannot predict: false). */
  readonly translates: boolean;
  /** Allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING. */
  readonly dirty?: boolean;
}

/** A ctx's attachment of one group at one PASID: the devices that joined it. */
export interface AttachModel {
  hwpt: number;
  readonly devices: Set<number>;
}

export interface CtxModel {
  readonly key: number;
  readonly proc: number;
  readonly ioas: IoasModel[];
  readonly hwpts: HwptModel[];
  /** Bound device index → DEVICE object ID. */
  readonly devices: Map<number, number>;
  /** `${group}|${pasid}` → attachment. */
  readonly attach: Map<string, AttachModel>;
  /** In-kernel accesses (selftest access fds), in creation order. */
  readonly accesses: AccessModel[];
}

/** The areas a group's attachment at `pasid` reached before a replace moved it elsewhere. */
export interface PreviousDomain {
  readonly group: string;
  readonly pasid: number;
  readonly areas: readonly AreaModel[];
}

/**
 * An in-kernel access (IOMMU_TEST_OP_CREATE_ACCESS) on an IOAS, with the ranges it pinned
 * (IOMMU_TEST_OP_ACCESS_PAGES); an unmap over a pinned range makes the kernel call its unmap
 * notifier, which drops the pin.
 */
export interface AccessModel {
  /** ACCESS object ID. */
  readonly id: number;
  /** Its anon fd in the process's file table. */
  readonly fd: number;
  readonly ioas: number;
  /** Pinned ranges: the areas they lie in (for accounting) and their IOVA span. */
  readonly pins: Array<{ readonly iova: bigint; readonly length: bigint; readonly areas: AreaModel[] }>;
}

export interface UnmappedRange {
  readonly ctx: number;
  readonly ioas: number;
  readonly iova: bigint;
  readonly length: bigint;
}

/**
 * While a call that changes translations is in flight, a DMA may see the state before or after
 * it (a cached translation is legitimately live until the invalidation completes).
 */
export interface Window {
  /** Areas being removed: possibly still mapped, possibly gone. */
  readonly maybeRemoved: ReadonlySet<AreaModel>;
  /** What a group may already (or still) translate through: an IOAS of a ctx, or blocked (undefined). */
  readonly altDomains: ReadonlyArray<{ group: string; pasid: number; target: IoasRef | undefined }>;
}

/** An IOAS of a ctx: what a domain translates. */
export interface IoasRef {
  readonly ctx: number;
  readonly ioas: number;
}

export const attachKey = (group: string, pasid: number) => `${group}|${pasid}`;

/** A fresh model of a topology whose processes each opened one iommufd. */
export function initialModel(topology: TopologySpec): Model {
  const procs: ProcModel[] = [];
  const devices: DeviceModel[] = [];
  const groups = new Map<string, GroupModel>();
  topology.hosts.forEach((host, h) => {
    for (const p of host.processes)
      procs.push({ index: procs.length, host: h, name: p.name, ctx: undefined });
    for (const d of host.devices) {
      const key = `${host.name}/${d.group}`;
      let g = groups.get(key);
      if (!g) {
        g = { key, host: h, devices: [], domains: new Map() };
        groups.set(key, g);
      }
      g.devices.push(devices.length);
      const vendor = host.iommus.find((i) => i.name === d.iommu)!.vendor;
      devices.push({
        index: devices.length,
        host: h,
        name: d.name,
        iommu: d.iommu,
        vendor,
        group: key,
        pasidBits: d.pasidBits,
        pasid: d.pasidBits > 0,
        bound: undefined,
      });
    }
  });
  return {
    topology,
    procs,
    devices,
    groups,
    ctxs: new Map(),
    unmapped: [],
    previous: [],
    window: undefined,
    nextCtxKey: 0,
    nextPagesId: 1,
  };
}

/** Opens a ctx for `proc` in the model; returns it. */
export function openCtx(m: Model, proc: number): CtxModel {
  const ctx: CtxModel = {
    key: m.nextCtxKey++,
    proc,
    ioas: [],
    hwpts: [],
    devices: new Map(),
    attach: new Map(),
    accesses: [],
  };
  m.ctxs.set(ctx.key, ctx);
  m.procs[proc]!.ctx = ctx.key;
  return ctx;
}

/** Keeps the last few previous domains as DMA targets. */
export function notePrevious(m: Model, prev: PreviousDomain): void {
  m.previous.push(prev);
  if (m.previous.length > 4) m.previous.shift();
}

/** Keeps the last few unmapped ranges as DMA targets. */
export function noteUnmapped(m: Model, range: UnmappedRange): void {
  m.unmapped.push(range);
  if (m.unmapped.length > 8) m.unmapped.shift();
}
