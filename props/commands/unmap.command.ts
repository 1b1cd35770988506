import { U64_MAX } from '../arbitraries/iova-range.ts';
import { areaLast, intersecting, planUnmap, removeAreas } from '../model/areas.ts';
import { type AreaModel, type CtxModel, type IoasModel, type Model, noteUnmapped } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { at, ioasTargets } from './pick.ts';
import { probers } from './probe.ts';

/**
 * The range to unmap: everything (iova 0, length U64_MAX), one live area with its ends moved
 * (a partial overlap is ENOENT), a span of areas, or absolute values.
 */
export type UnmapRange =
  | { kind: 'all' }
  | { kind: 'area'; pos: number; span: number; startDelta: bigint; endDelta: bigint }
  | { kind: 'abs'; iova: bigint; length: bigint };

export interface UnmapArgs {
  /** Position among live IOASes with areas (see `ioasTargets`), else among all. */
  ioas: number;
  range: UnmapRange;
  /**
   * Probe DMAs from a device translating through the IOAS: 'after' reads each removed area once
   * IOAS_UNMAP returned (it must fault); 'around' also reads it before, to fill IOTLBs and ATCs.
   */
  probe: 'none' | 'after' | 'around';
}

/** IOMMU_IOAS_UNMAP; DMAs meanwhile may see each removed area mapped or not. */
export class UnmapCommand extends PropCommand<UnmapArgs> {
  readonly verb = 'unmap';

  check(m: Readonly<Model>): boolean {
    return ioasTargets(m).length > 0;
  }

  async exec(m: Model, w: World): Promise<void> {
    const live = ioasTargets(m);
    const withAreas = live.filter((t) => t.ioas.areas.length > 0);
    const { ctx, ioas } = at(withAreas.length > 0 ? withAreas : live, this.args.ioas)!;
    const [iova, length] = resolveRange(ioas, this.args.range, pinnedAreas(ctx, ioas));
    const all = iova === 0n && length === U64_MAX;
    const last = iova + length - 1n;
    const valid = all || (iova < U64_MAX && length < U64_MAX && length > 0n && last <= U64_MAX);
    const plan = valid ? planUnmap(ioas, iova, all ? U64_MAX : last) : { removed: [], stuck: false };
    const targets = plan.removed.slice(0, 2);
    const devs = this.args.probe === 'none' ? [] : probers(m, ctx, ioas);
    if (this.args.probe === 'around') await probe(w, devs, targets);
    const maybe = valid ? intersecting(ioas, iova, all ? U64_MAX : last) : [];
    const r = await w.within({ maybeRemoved: new Set(maybe), altDomains: [] }, () =>
      w.ioctl(ctx.key, 'IOMMU_IOAS_UNMAP', { ioas_id: ioas.id, iova, length }, true),
    );
    if (r.ok || (r.errno === 'ENOENT' && plan.stuck)) commit(m, w, ctx, ioas, plan.removed);
    if (r.ok) await probe(w, devs, targets);
  }
}

/** Areas of `ioas` an in-kernel access has pinned pages of. */
function pinnedAreas(ctx: CtxModel, ioas: IoasModel): Set<AreaModel> {
  const out = new Set<AreaModel>();
  for (const a of ctx.accesses)
    if (a.ioas === ioas.id) for (const p of a.pins) for (const area of p.areas) out.add(area);
  return out;
}

/** An area pinned by an access comes first among the areas a position names: its unmap must notify. */
function resolveRange(ioas: IoasModel, range: UnmapRange, pinned: ReadonlySet<AreaModel>): [bigint, bigint] {
  if (range.kind === 'all') return [0n, U64_MAX];
  if (range.kind === 'abs') return [range.iova, range.length];
  const firstPinned = ioas.areas.find((a) => pinned.has(a));
  const first = range.pos === 0 && firstPinned ? firstPinned : at(ioas.areas, range.pos);
  if (!first) return [0x100_0000n + range.startDelta, 0x1000n];
  const lastArea = ioas.areas[Math.min(ioas.areas.indexOf(first) + range.span, ioas.areas.length - 1)]!;
  const iova = (first.iova + range.startDelta) & U64_MAX;
  const length = areaLast(lastArea) + range.endDelta - iova + 1n;
  return [iova, length < 0n ? 0n : length & U64_MAX];
}

function commit(m: Model, w: World, ctx: CtxModel, ioas: IoasModel, removed: AreaModel[]): void {
  removeAreas(ioas, removed);
  // The kernel asked each access pinning a removed area to unpin it (the selftest's notifier
  // drops every pinned item the range touches).
  const gone = new Set(removed);
  for (const access of ctx.accesses) {
    if (access.ioas !== ioas.id) continue;
    const kept = access.pins.filter((p) => !p.areas.some((a) => gone.has(a)));
    if (kept.length === access.pins.length) continue;
    access.pins.splice(0, access.pins.length, ...kept);
    w.note('access-unmap-notify');
  }
  for (const a of removed) noteUnmapped(m, { ctx: ctx.key, ioas: ioas.id, iova: a.iova, length: a.length });
}

/**
 * Reads the first and the last word of each area: a range invalidation that loses the tail (an
 * off-by-one, a mask one page short) shows only there.
 */
async function probe(
  w: World,
  devs: ReadonlyArray<{ dev: number; pasid: number | undefined }>,
  areas: readonly AreaModel[],
): Promise<void> {
  for (const { dev, pasid } of devs) {
    for (const a of areas) {
      for (const iova of new Set([a.iova, (a.iova + a.length - 4n) & ~3n])) {
        const h = w.issueDma({ dev, pasid, op: 'read', iova, length: 4, writer: 0xff });
        if (h) await w.awaitDma(h);
      }
    }
  }
}
