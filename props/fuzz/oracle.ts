import type { DmaResult } from '../../actors/device.ts';
import type { IommufdDevice } from '../../actors/iommufd/device.ts';
import type { HwptNested } from '../../actors/iommufd/hwpt-nested.ts';
import type { HwptPaging } from '../../actors/iommufd/hwpt-paging.ts';
import type { Ioas } from '../../actors/iommufd/ioas.ts';
import type { Domain } from '../../vendors/driver.ts';
import type { TopologySpec } from '../arbitraries/topology.ts';
import type { AreaModel, CtxModel, DeviceModel, GroupModel, HwptModel, Model } from '../model/model.ts';
import { RID } from '../model/model.ts';
import { type DmaVerdictKind, judgeDma } from '../world/dma-oracle.ts';
import { tagOwners } from '../world/tags.ts';
import { FILE_VA, type Rig } from './rig.ts';

/** What the device's domain is, beyond the model: a nested HWPT translates through a user stage 1. */
export interface Derived {
  readonly model: Model;
  /** Group|pasid → the ctx owning the nested HWPT the group translates through there. */
  readonly nested: Map<string, number>;
}

/**
 * The props model, read from the kernel side after a call settled: every live ctx's IOASes with
 * their areas (the user VA and process each reaches), HWPTs, bound devices, and each iommu_group's
 * domains by PASID as the IOMMU core set them. The DMA oracle (props/world/dma-oracle.ts) then
 * judges what the hardware did against what this state says the device may reach.
 */
export function deriveModel(rig: Rig): Derived {
  const ctxs = new Map<number, CtxModel>();
  const byDomain = new Map<Domain, { ctx: number; hwpt: number; nested: boolean }>();
  const boundTo = new Map<object, number>();
  rig.iommufds.forEach((handles, p) => {
    for (const fd of handles.values()) {
      const ctx = fd.ctx;
      if (ctx.closed || ctxs.has(ctx.id)) continue;
      const model: CtxModel = {
        key: ctx.id,
        proc: p,
        ioas: [],
        hwpts: [],
        devices: new Map(),
        attach: new Map(),
        accesses: [],
      };
      for (const o of ctx.liveObjects()) {
        if (o.type === 'IOAS') model.ioas.push({ id: o.id, areas: areasOf(rig, o as Ioas, p) });
        else if (o.type === 'HWPT_PAGING' || o.type === 'HWPT_NESTED') {
          const h = o as HwptPaging | HwptNested;
          const paging = o.type === 'HWPT_PAGING' ? (h as HwptPaging) : (h as HwptNested).parent;
          model.hwpts.push(hwptModel(o.id, o.type === 'HWPT_NESTED', paging));
          byDomain.set(h.domain as Domain, { ctx: ctx.id, hwpt: o.id, nested: o.type === 'HWPT_NESTED' });
        } else if (o.type === 'DEVICE') boundTo.set((o as IommufdDevice).kdev, ctx.id);
      }
      ctxs.set(ctx.id, model);
    }
  });
  const devices: DeviceModel[] = [];
  const groups = new Map<string, GroupModel>();
  const nested = new Map<string, number>();
  for (const dev of rig.host.devices()) {
    const kdev = dev.kdev;
    const key = kdev.group.name;
    let g = groups.get(key);
    if (!g) {
      g = { key, host: 0, devices: [], domains: new Map() };
      groups.set(key, g);
      const doms: Array<[number, Domain | undefined]> = [[RID, kdev.group.domain]];
      for (const [pasid, d] of kdev.group.pasidDomains) doms.push([pasid, d]);
      for (const [pasid, d] of doms) {
        const at = d && byDomain.get(d);
        if (!at) continue;
        g.domains.set(pasid, { ctx: at.ctx, hwpt: at.hwpt });
        if (at.nested) nested.set(`${key}|${pasid}`, at.ctx);
      }
    }
    g.devices.push(devices.length);
    devices.push({
      index: devices.length,
      host: 0,
      name: dev.name,
      iommu: kdev.iommu.name,
      vendor: rig.opts.vendor,
      group: key,
      pasidBits: kdev.ref.pasidBits,
      pasid: kdev.ref.pasidBits > 0,
      bound: boundTo.get(kdev),
    });
  }
  const topology: TopologySpec = { seed: rig.opts.farmSeed, hosts: [] };
  const procs = rig.procs.map((p, index) => ({ index, host: 0, name: p.name, ctx: undefined }));
  const model: Model = {
    topology,
    procs,
    devices,
    groups,
    ctxs,
    unmapped: [],
    previous: [],
    window: undefined,
    nextCtxKey: 0,
    nextPagesId: 0,
  };
  return { model, nested };
}

function hwptModel(id: number, nested: boolean, paging: HwptPaging): HwptModel {
  return {
    id,
    kind: nested ? 'nested' : 'paging',
    ioas: paging.ioas.id,
    parent: nested ? paging.id : undefined,
    auto: paging.autoDomain,
    pasidCompat: paging.pasidCompat,
    nestParent: paging.nestParent,
    // A nested HWPT's stage 1 is the user's: judged by ownership only (see judgeNested).
    translates: !nested,
  };
}

function areasOf(rig: Rig, ioas: Ioas, ctxProc: number): AreaModel[] {
  const out: AreaModel[] = [];
  for (const node of ioas.iopt.areas.all()) {
    const a = node.value;
    const src = a.pages.source;
    const proc = src.kind === 'user' ? rig.procs.findIndex((p) => p.mm === src.mm) : ctxProc;
    const uva = (src.kind === 'user' ? src.base : FILE_VA + src.base) + a.startByte;
    out.push({ iova: a.iova, length: a.length, prot: a.prot, pages: 0, uva, pagesVa: uva, proc });
  }
  return out;
}

/** One DMA the sweep made, with its verdict. */
export interface DmaCheck {
  readonly device: string;
  readonly pasid: number | undefined;
  readonly op: 'read' | 'write';
  readonly iova: bigint;
  readonly length: number;
  readonly verdict: DmaVerdictKind | 'nested-foreign';
  readonly detail: string;
}

/** Judges a DMA through a nested HWPT: its stage 1 is the user's, so only whose memory it reached counts. */
export function judgeNested(
  ownerProc: number,
  result: DmaResult,
  iova: bigint,
): { kind: DmaVerdictKind | 'nested-foreign'; detail: string } {
  if (!result.ok) {
    return result.fault.vendor === 'farm'
      ? {
          kind: 'unbacked',
          detail: `nested DMA reached unowned physical memory 0x${result.fault.pa.toString(16)}`,
        }
      : { kind: 'ok', detail: '' };
  }
  const foreign = result.data ? [...tagOwners(result.data, iova)].filter((p) => p !== ownerProc) : [];
  return foreign.length > 0
    ? { kind: 'nested-foreign', detail: `nested DMA returned memory of p${foreign[0]}` }
    : { kind: 'ok', detail: '' };
}

export { judgeDma };
