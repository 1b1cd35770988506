import { IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE } from '../../actors/iommufd/uapi-iommufd.ts';
import { MOCK_APERTURE_START } from '../../actors/iommufd/uapi-selftest.ts';
import type { Model } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { HwptAllocCommand } from './hwpt-alloc.command.ts';
import { IoasAllocCommand } from './ioas-alloc.command.ts';
import { MapCommand } from './map.command.ts';
import { ctxOfProc, ioasTargets } from './pick.ts';

export interface PrefillArgs {
  proc: number;
  /** Areas to map before any domain exists (2..4). */
  areas: number;
  /** Pages per area. */
  pages: number;
  dev: number;
  flags: number;
}

const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

/**
 * A fresh IOAS with several areas mapped while no domain holds it (nothing pinned yet), then an
 * IOMMU_HWPT_ALLOC on it: the domain fill pins and maps area after area, and under a small
 * RLIMIT_MEMLOCK it runs out part-way and must unwind the areas it already filled. On success it
 * leaves an explicit HWPT over several areas.
 */
export class PrefillCommand extends PropCommand<PrefillArgs> {
  readonly verb = 'prefill';

  check(m: Readonly<Model>): boolean {
    return (ctxOfProc(m, this.args.proc)?.devices.size ?? 0) > 0;
  }

  async exec(m: Model, w: World): Promise<void> {
    const ctx = ctxOfProc(m, this.args.proc)!;
    const before = ctx.ioas.length;
    await new IoasAllocCommand({ proc: this.args.proc }).exec(m, w);
    const ioas = ctx.ioas[before];
    if (!ioas) return;
    const length = BigInt(this.args.pages) * 0x1000n;
    for (let i = 0; i < this.args.areas; i++) {
      const pos = ioasTargets(m).findIndex((t) => t.ioas === ioas);
      const offset = (BigInt(i) * length) % 0x10000n;
      // Fixed IOVAs inside every vendor's aperture (the mock's starts at 16 MiB).
      const iova = { kind: 'abs' as const, iova: BigInt(MOCK_APERTURE_START) + BigInt(i) * length };
      await new MapCommand({ ioas: pos, offset, bogus: false, length, iova, flags: RW }).exec(m, w);
    }
    await new HwptAllocCommand({
      proc: this.args.proc,
      ioas: before,
      dev: this.args.dev,
      flags: this.args.flags,
    }).exec(m, w);
  }
}
