import type { Ioas } from '../../actors/iommufd/ioas.ts';
import type { IovaContext } from '../arbitraries/iova-range.ts';
import type { CtxModel, IoasModel, Model } from '../model/model.ts';
import type { World } from '../world/world.ts';

/**
 * The live state an IOVA pick resolves against: the IOAS's areas (model), its usable holes (the
 * real IOAS: they follow from apertures and reserved regions the model does not track) and the
 * ranges unmapped recently.
 */
export function iovaContext(
  m: Readonly<Model>,
  w: World,
  ctx: CtxModel | undefined,
  ioas: IoasModel | undefined,
): IovaContext {
  const real =
    ctx && ioas ? (w.fds.get(ctx.key)?.ctx.objects.tryGet(ioas.id) as Ioas | undefined) : undefined;
  return {
    areas: ioas?.areas ?? [],
    usable: real?.type === 'IOAS' ? [...real.iopt.usableRanges()] : [],
    unmapped: m.unmapped,
  };
}
