import { areaLast } from '../model/areas.ts';
import { modelObjects } from '../model/graph.ts';
import { snapshotCtx } from '../snapshot.ts';
import type { Invariant, Violation } from './invariant.ts';
import { dmaWitness } from './witness.ts';

const hex = (n: bigint) => n.toString(16);

/**
 * The model agrees with the farm: the same live objects and the same areas in every IOAS, and
 * no DMA faulted where every domain it may use maps it. Not a kernel property but a check on
 * the model itself, so the other invariants judge against the right expectations.
 */
export const modelAgreement: Invariant = {
  name: 'model',
  title: 'the model and the farm agree on objects, areas and translations',
  check({ world, model, step }): Violation | undefined {
    const missing = step.dmas.find((d) => d.verdict === 'missing');
    if (missing)
      return {
        invariant: 'model',
        message: `${missing.device}: ${missing.detail}`,
        witness: dmaWitness(missing),
      };
    for (const [key, fd] of world.fds) {
      const ctx = model.ctxs.get(key);
      if (!ctx)
        return { invariant: 'model', message: `ctx ${key} is open but not in the model`, witness: [] };
      const want = modelObjects(ctx)
        .map((o) => `${o.type}#${o.id}`)
        .join(' ');
      const got = fd.ctx
        .liveObjects()
        .map((o) => `${o.type}#${o.id}`)
        .join(' ');
      if (want !== got)
        return { invariant: 'model', message: `p${ctx.proc}: objects ${got}, model ${want}`, witness: [] };
      const snap = snapshotCtx(fd.ctx, fd.process);
      for (const ioas of ctx.ioas) {
        const areas = ioas.areas.map((a) => `${hex(a.iova)}-${hex(areaLast(a))}:${a.prot}`).join(' ');
        const real = (snap.ioas[ioas.id]?.areas ?? []).join(' ');
        if (areas !== real) {
          return {
            invariant: 'model',
            message: `p${ctx.proc} IOAS ${ioas.id}: areas ${real || '(none)'}, model ${areas || '(none)'}`,
            witness: [],
          };
        }
      }
    }
    return undefined;
  },
};
