import { VFIO_DEVICE_ATTACH_PASID } from '../../actors/iommufd/uapi-vfio.ts';
import { applyAttach, applyReplace, attachmentOf, hwptById } from '../model/graph.ts';
import { type CtxModel, type IoasRef, type Model, notePrevious, RID } from '../model/model.ts';
import { profileOf } from '../vendors/profile.ts';
import type { World } from '../world/world.ts';
import { at } from './pick.ts';
import { noteFillUnwind } from './unwind.ts';

/** What an attach or replace names: the IOAS (auto-domain) or the HWPT at a position of the ctx. */
export interface PtTarget {
  kind: 'ioas' | 'hwpt';
  pos: number;
}

/**
 * The object an attach names. A PASID attach looks among PASID-capable HWPTs first (any other
 * is EINVAL), and `avoid` (a replace moving the group elsewhere) skips targets on that IOAS.
 */
function resolveTarget(
  ctx: CtxModel,
  t: PtTarget,
  pasid: boolean,
  avoid?: number,
): { id: number; ioas: IoasRef | undefined } | undefined {
  // Newest first: position 0 (which the arbitraries favour) names the HWPT just allocated.
  const hwpts = ctx.hwpts.filter((h) => h.ioas !== avoid || avoid === undefined).reverse();
  const pasidOk = hwpts.filter((h) => h.pasidCompat);
  // A PASID attach needs a PASID-capable HWPT (an IOAS's auto-domain is not one): aim there.
  if (pasid && pasidOk.length > 0) {
    const hwpt = at(pasidOk, t.pos)!;
    return { id: hwpt.id, ioas: hwpt.translates ? { ctx: ctx.key, ioas: hwpt.ioas } : undefined };
  }
  const pool = hwpts;
  if (t.kind === 'ioas' || pool.length === 0) {
    const others = ctx.ioas.filter((i) => i.id !== avoid);
    const ioas = at(others.length > 0 ? others : ctx.ioas, t.pos);
    return ioas && { id: ioas.id, ioas: { ctx: ctx.key, ioas: ioas.id } };
  }
  const hwpt = at(pool, t.pos)!;
  return { id: hwpt.id, ioas: hwpt.translates ? { ctx: ctx.key, ioas: hwpt.ioas } : undefined };
}

/**
 * VFIO_DEVICE_ATTACH_IOMMUFD_PT: an attach, or a replace if the device is attached at that PASID
 * already (VFIO decides by itself). While it runs, DMA may see the old or the new domain.
 */
export async function changePt(
  m: Model,
  w: World,
  dev: number,
  target: PtTarget,
  pasid: number | null,
  opts: { elsewhere?: boolean } = {},
): Promise<boolean> {
  const d = m.devices[dev]!;
  const ctx = m.ctxs.get(d.bound!)!;
  const key = pasid ?? RID;
  const before = attachmentOf(m, ctx, dev, key);
  const oldHwpt = before && hwptById(ctx, before.hwpt);
  const t = resolveTarget(ctx, target, pasid !== null, opts.elsewhere ? oldHwpt?.ioas : undefined);
  if (!t) return false;
  const wasAttached = before?.devices.has(dev) ?? false;
  // Joining an attachment other devices of the group already made (a group attached whole).
  const joining = !wasAttached && (before?.devices.size ?? 0) > 0;
  const oldRef = oldHwpt?.translates ? oldHwpt.ioas : undefined;
  const oldAreas = oldRef === undefined ? [] : (ctx.ioas.find((i) => i.id === oldRef)?.areas ?? []);
  const altDomains = [{ group: d.group, pasid: key, target: t.ioas }];
  if (wasAttached && profileOf(d.vendor).breakingReplace)
    altDomains.push({ group: d.group, pasid: key, target: undefined });
  const r = await w.within({ maybeRemoved: new Set(), altDomains }, () =>
    w.vfioIoctl(dev, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', {
      flags: pasid === null ? 0 : VFIO_DEVICE_ATTACH_PASID,
      pt_id: t.id,
      pasid: pasid ?? 0,
    }),
  );
  if (t.ioas && t.id === t.ioas.ioas) noteFillUnwind(m, w, ctx, t.id, r);
  if (!r.ok) return false;
  const hwpt = Number(r.out.pt_id);
  if (!hwptById(ctx, hwpt) && t.ioas) {
    ctx.hwpts.push({
      id: hwpt,
      kind: 'paging',
      ioas: t.ioas.ioas,
      parent: undefined,
      auto: true,
      pasidCompat: false,
      nestParent: false,
      translates: true,
    });
  }
  if (pasid !== null && !wasAttached) w.note('pasid-attach', dev);
  if (joining) w.note('group-multi-attach', dev);
  if (wasAttached && t.ioas?.ioas !== oldRef && oldAreas.length > 0) {
    w.note('replace-cross-ioas', dev);
    notePrevious(m, { group: d.group, pasid: key, areas: [...oldAreas] });
  }
  if (wasAttached) applyReplace(m, ctx, dev, key, hwpt);
  else applyAttach(m, ctx, dev, key, hwpt);
  return true;
}
