import { mapProt } from '../../actors/iommufd/ioas.ts';
import { IOMMU_IOAS_MAP_FIXED_IOVA } from '../../actors/iommufd/uapi-iommufd.ts';
import { type IovaPick, resolveIova } from '../arbitraries/iova-range.ts';
import { insertArea } from '../model/areas.ts';
import type { Model } from '../model/model.ts';
import { BUFFER_VA } from '../world/tags.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { iovaContext } from './iova-context.ts';
import { at, ioasTargets } from './pick.ts';

/** A user VA nothing is mapped at: MAP succeeds without a domain and faults when pinned (the selftest's trick). */
export const BOGUS_VA = 1n << 31n;

export interface MapArgs {
  /** Position among live IOASes (see `ioasTargets`). */
  ioas: number;
  /** Byte offset into the process's test buffer (ignored when `bogus`). */
  offset: bigint;
  bogus: boolean;
  length: bigint;
  /** FIXED_IOVA at this pick, or null to let the kernel allocate. */
  iova: IovaPick | null;
  flags: number;
}

/** IOMMU_IOAS_MAP of (part of) the process's test buffer. */
export class MapCommand extends PropCommand<MapArgs> {
  readonly verb = 'map';

  check(m: Readonly<Model>): boolean {
    return ioasTargets(m).length > 0;
  }

  async exec(m: Model, w: World): Promise<void> {
    const { ctx, ioas } = at(ioasTargets(m), this.args.ioas)!;
    const { length, flags } = this.args;
    const userVa = this.args.bogus ? BOGUS_VA : BUFFER_VA + this.args.offset;
    const fixed = this.args.iova !== null;
    const iova = fixed ? resolveIova(this.args.iova!, iovaContext(m, w, ctx, ioas), length) : 0n;
    const r = await w.ioctl(ctx.key, 'IOMMU_IOAS_MAP', {
      flags: flags | (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0),
      ioas_id: ioas.id,
      user_va: userVa,
      length,
      iova,
    });
    if (!r.ok) return;
    insertArea(ioas, {
      iova: r.out.iova as bigint,
      length,
      prot: mapProt(flags),
      pages: m.nextPagesId++,
      uva: userVa,
      pagesVa: userVa,
      proc: ctx.proc,
    });
  }
}
