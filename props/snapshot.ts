import type { IommufdCtx } from '../actors/iommufd/ctx.ts';
import type { Hwpt } from '../actors/iommufd/hwpt-nested.ts';
import type { Ioas } from '../actors/iommufd/ioas.ts';
import type { Process } from '../actors/process.ts';

/**
 * Everything a user of one ctx can observe, as plain data: objects with their refcounts, every
 * IOAS's areas/reservations/allowed ranges/alignment, attachments, the IDs the next allocations
 * would get, and the pin and memlock counters. Two equal snapshots mean no observable change.
 */
export interface CtxSnapshot {
  readonly objects: ReadonlyArray<{ id: number; type: string; users: number }>;
  readonly nextIds: readonly number[];
  readonly ioas: Readonly<Record<number, IoasSnapshot>>;
  readonly attachments: ReadonlyArray<{ group: string; pasid: number; hwpt: number; devices: number[] }>;
  readonly counters: { pinned: string; userLocked: string; mmLocked: string };
  readonly vfioIoas: number | undefined;
  readonly accountMode: string;
}

export interface IoasSnapshot {
  readonly areas: string[];
  readonly reserved: string[];
  readonly allowed: string[];
  readonly alignment: string;
  readonly largePages: boolean;
  readonly hwpts: number[];
  readonly domains: number;
}

const range = (s: bigint, l: bigint) => `${s.toString(16)}-${l.toString(16)}`;

export function snapshotCtx(ctx: IommufdCtx, proc: Process): CtxSnapshot {
  const objects = ctx.liveObjects().map((o) => ({ id: o.id, type: o.type, users: o.users }));
  const ioas: Record<number, IoasSnapshot> = {};
  for (const o of ctx.liveObjects()) {
    if (o.type !== 'IOAS') continue;
    const iopt = (o as Ioas).iopt;
    ioas[o.id] = {
      areas: [...iopt.areas.all()].map((n) => `${range(n.start, n.last)}:${n.value.prot}`),
      reserved: [...iopt.reserved.all()].map((n) => range(n.start, n.last)),
      allowed: [...iopt.allowed.all()].map((n) => range(n.start, n.last)),
      alignment: iopt.iovaAlignment.toString(),
      largePages: !iopt.disableLargePages,
      hwpts: (o as Ioas).hwptList.map((h) => h.id),
      domains: iopt.domains.length,
    };
  }
  const attachments = [...ctx.igroups.values()].flatMap((g) =>
    [...g.pasidAttach.entries()].map(([pasid, a]) => ({
      group: g.group.name,
      pasid,
      hwpt: (a.hwpt as Hwpt).id,
      devices: [...a.devices].map((d) => d.id).sort((x, y) => x - y),
    })),
  );
  // Probe the allocator: reserve and give back, which leaves the free set as it was.
  const probe = [ctx.objects.reserveId(), ctx.objects.reserveId(), ctx.objects.reserveId()];
  for (const id of probe) ctx.objects.releaseId(id);
  return {
    objects,
    nextIds: probe,
    ioas,
    attachments,
    counters: {
      pinned: proc.mm.counters.pinnedPages.toString(),
      userLocked: proc.user.lockedPages.toString(),
      mmLocked: proc.mm.counters.lockedPages.toString(),
    },
    vfioIoas: ctx.vfioIoas?.id,
    accountMode: ctx.accountMode,
  };
}
