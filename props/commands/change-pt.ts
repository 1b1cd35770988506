import { VFIO_DEVICE_ATTACH_PASID } from '../../actors/iommufd/uapi-vfio.ts';
import { applyAttach, applyReplace, attachmentOf, hwptById } from '../model/graph.ts';
import { type CtxModel, type IoasRef, type Model, RID } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { at } from './pick.ts';

/** What an attach or replace names: the IOAS (auto-domain) or the HWPT at a position of the ctx. */
export interface PtTarget {
  kind: 'ioas' | 'hwpt';
  pos: number;
}

function resolveTarget(ctx: CtxModel, t: PtTarget): { id: number; ioas: IoasRef | undefined } | undefined {
  if (t.kind === 'ioas' || ctx.hwpts.length === 0) {
    const ioas = at(ctx.ioas, t.pos);
    return ioas && { id: ioas.id, ioas: { ctx: ctx.key, ioas: ioas.id } };
  }
  const hwpt = at(ctx.hwpts, t.pos)!;
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
): Promise<void> {
  const d = m.devices[dev]!;
  const ctx = m.ctxs.get(d.bound!)!;
  const t = resolveTarget(ctx, target);
  if (!t) return;
  const key = pasid ?? RID;
  const wasAttached = attachmentOf(m, ctx, dev, key)?.devices.has(dev) ?? false;
  const r = await w.within(
    { maybeRemoved: new Set(), altDomains: [{ group: d.group, pasid: key, target: t.ioas }] },
    () =>
      w.vfioIoctl(dev, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', {
        flags: pasid === null ? 0 : VFIO_DEVICE_ATTACH_PASID,
        pt_id: t.id,
        pasid: pasid ?? 0,
      }),
  );
  if (!r.ok) return;
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
  if (wasAttached) applyReplace(m, ctx, dev, key, hwpt);
  else applyAttach(m, ctx, dev, key, hwpt);
}
