import type { IommufdCtx } from '../actors/iommufd/ctx.ts';
import type { Hwpt } from '../actors/iommufd/hwpt-nested.ts';
import type { HwptPaging } from '../actors/iommufd/hwpt-paging.ts';
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
  /** Groups whose DMA this ctx owns (with the claim count), and its iommufd_group records. */
  readonly dmaOwnership: readonly string[];
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
    dmaOwnership: [
      ...[...ctx.env.host.core.groups.values()]
        .filter((g) => g.owner === ctx)
        .map((g) => `owns ${g.name}x${g.ownerCount}`),
      ...[...ctx.igroups.keys()].map((g) => `igroup ${g.name}`),
    ],
  };
}

/**
 * What the kernel below the ctx holds for it, beyond `snapshotCtx`: which domain each group (and
 * PASID) sits in, pins per area, and what each paging domain translates at `probes` (a mapping
 * left behind by a failed call shows here even though no area names it).
 */
export interface KernelSnapshot {
  readonly groups: ReadonlyArray<{ group: string; rid: string; pasids: string[] }>;
  /** DMA ownership of every host group: how many devices this ctx (or another owner) claimed. */
  readonly owners: readonly string[];
  readonly areaPins: readonly string[];
  readonly domainMaps: readonly string[];
}

export function snapshotKernel(ctx: IommufdCtx, probes: readonly bigint[] = []): KernelSnapshot {
  const names = new Map<object, string>();
  const paging: Array<[number, HwptPaging['domain']]> = [];
  for (const o of ctx.liveObjects()) {
    const domain = (o as { domain?: object }).domain;
    if (domain) names.set(domain, `${o.type}#${o.id}`);
    if (o.type === 'HWPT_PAGING') paging.push([o.id, (o as HwptPaging).domain]);
  }
  const label = (d: { kind: string } | undefined) => (d ? (names.get(d) ?? d.kind) : 'none');
  const groups = [...ctx.igroups.values()].map((g) => ({
    group: g.group.name,
    rid: label(g.group.domain),
    pasids: [...g.group.pasidDomains.entries()].map(([p, d]) => `${p}:${label(d)}`).sort(),
  }));
  const areaPins: string[] = [];
  for (const o of ctx.liveObjects()) {
    if (o.type !== 'IOAS') continue;
    for (const n of (o as Ioas).iopt.areas.all()) {
      const a = n.value;
      areaPins.push(
        `${o.id}@${range(n.start, n.last)}:${a.pages.pinnedPages}/${a.numAccesses}/${a.domainPinned}`,
      );
    }
  }
  const domainMaps = paging.flatMap(([id, d]) =>
    probes.map((iova) => `${id}@${iova.toString(16)}=${d.iovaToPhys(iova)?.toString(16) ?? '-'}`),
  );
  const owners = [...ctx.env.host.core.groups.values()].map(
    (g) => `${g.name}:${g.owner === undefined ? '-' : g.owner === ctx ? 'ctx' : 'other'}x${g.ownerCount}`,
  );
  return { groups, owners, areaPins, domainMaps };
}

/**
 * What changed beyond what a failed IOAS_UNMAP may leave behind (it may have removed whole areas
 * and unpinned their pages before failing), or undefined.
 */
export function partialUnmapDiff(b: CtxSnapshot, a: CtxSnapshot): string | undefined {
  for (const [id, s] of Object.entries(a.ioas)) {
    const was = b.ioas[Number(id)];
    if (!was) return `IOAS ${id} appeared`;
    const extra = s.areas.filter((x) => !was.areas.includes(x));
    if (extra.length > 0) return `IOAS ${id} gained areas ${extra.join(', ')}`;
    if (JSON.stringify({ ...s, areas: [] }) !== JSON.stringify({ ...was, areas: [] }))
      return `IOAS ${id} beyond its areas`;
  }
  const rest = (s: CtxSnapshot) => JSON.stringify({ ...s, ioas: Object.keys(s.ioas), counters: undefined });
  if (rest(a) !== rest(b)) return 'objects or attachments';
  if (BigInt(a.counters.pinned) > BigInt(b.counters.pinned)) return 'pinned pages grew';
  return undefined;
}
