import { domainOf } from '../model/graph.ts';
import type { CtxModel, IoasModel, Model } from '../model/model.ts';
import { ioasOfDomain } from '../world/dma-oracle.ts';

/** A device whose RID translates through `ioas` of `ctx`, to probe it with DMA. */
export function probeDevice(m: Readonly<Model>, ctx: CtxModel, ioas: IoasModel): number | undefined {
  for (const d of m.devices) {
    const ref = ioasOfDomain(m, domainOf(m as Model, d.index, undefined));
    if (ref?.ctx === ctx.key && ref.ioas === ioas.id) return d.index;
  }
  return undefined;
}
