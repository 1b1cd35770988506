import { domainOf } from '../model/graph.ts';
import { type CtxModel, type IoasModel, type Model, RID } from '../model/model.ts';
import { ioasOfDomain } from '../world/dma-oracle.ts';

/** A device whose RID translates through `ioas` of `ctx`, to probe it with DMA. */
export function probeDevice(m: Readonly<Model>, ctx: CtxModel, ioas: IoasModel): number | undefined {
  for (const d of m.devices) {
    const ref = ioasOfDomain(m, domainOf(m as Model, d.index, undefined));
    if (ref?.ctx === ctx.key && ref.ioas === ioas.id) return d.index;
  }
  return undefined;
}

/**
 * Devices and tags (RID: undefined, else a PASID) whose domain translates through `ioas` of
 * `ctx`: one RID and one PASID-tagged prober at most, so PASID-tagged IOTLB entries are filled
 * and checked as well.
 */
export function probers(
  m: Readonly<Model>,
  ctx: CtxModel,
  ioas: IoasModel,
): Array<{ dev: number; pasid: number | undefined }> {
  const out: Array<{ dev: number; pasid: number | undefined }> = [];
  const rid = probeDevice(m, ctx, ioas);
  if (rid !== undefined) out.push({ dev: rid, pasid: undefined });
  for (const d of m.devices) {
    if (!d.pasid) continue;
    for (const [pasid, dom] of m.groups.get(d.group)!.domains) {
      if (pasid === RID || pasid >= 2 ** d.pasidBits) continue;
      const ref = ioasOfDomain(m, dom);
      if (ref?.ctx === ctx.key && ref.ioas === ioas.id) return [...out, { dev: d.index, pasid }];
    }
  }
  return out;
}
