import { mapProt } from '../../actors/iommufd/ioas.ts';
import { IOMMU_IOAS_MAP_FIXED_IOVA } from '../../actors/iommufd/uapi-iommufd.ts';
import { type IovaPick, resolveIova, U64_MAX } from '../arbitraries/iova-range.ts';
import { areaLast, insertArea, piecesOf } from '../model/areas.ts';
import type { Model } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { iovaContext } from './iova-context.ts';
import { at, ioasAt, ioasTargets } from './pick.ts';

export interface CopyArgs {
  /** Position among live IOASes with areas (see `ioasTargets`). */
  src: number;
  /** Position among the IOASes of the source's ctx (the same IOAS included). */
  dst: number;
  /** Source range: from area `area` (+startDelta) to the end of the area `span` places later (+endDelta). */
  area: number;
  span: number;
  startDelta: bigint;
  endDelta: bigint;
  dstIova: IovaPick | null;
  flags: number;
}

/** IOMMU_IOAS_COPY: the destination shares the source's pinned pages. */
export class CopyCommand extends PropCommand<CopyArgs> {
  readonly verb = 'copy';

  check(m: Readonly<Model>): boolean {
    return ioasTargets(m).some((t) => t.ioas.areas.length > 0);
  }

  async exec(m: Model, w: World): Promise<void> {
    const { ctx, ioas: src } = at(
      ioasTargets(m).filter((t) => t.ioas.areas.length > 0),
      this.args.src,
    )!;
    const dst = ioasAt(ctx, this.args.dst)!;
    const first = at(src.areas, this.args.area)!;
    const lastArea = src.areas[Math.min(src.areas.indexOf(first) + this.args.span, src.areas.length - 1)]!;
    const srcIova = (first.iova + this.args.startDelta) & U64_MAX;
    const length = areaLast(lastArea) + this.args.endDelta - srcIova + 1n;
    const fixed = this.args.dstIova !== null;
    const dstIova = fixed ? resolveIova(this.args.dstIova!, iovaContext(m, w, ctx, dst), length) : 0n;
    const pieces = piecesOf(src, srcIova, length);
    const r = await w.ioctl(ctx.key, 'IOMMU_IOAS_COPY', {
      flags: this.args.flags | (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0),
      dst_ioas_id: dst.id,
      src_ioas_id: src.id,
      length: length < 0n ? 0n : length,
      dst_iova: dstIova,
      src_iova: srcIova,
    });
    if (!r.ok || !pieces) return;
    const base = r.out.dst_iova as bigint;
    for (const p of pieces) {
      insertArea(dst, { ...p, iova: base + (p.iova - srcIova), prot: mapProt(this.args.flags) });
    }
  }
}
