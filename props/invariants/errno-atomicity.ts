import { type CtxSnapshot, partialUnmapDiff } from '../snapshot.ts';
import { lit } from '../world/code.ts';
import type { CallRecord } from '../world/step.ts';
import type { Invariant, Violation } from './invariant.ts';

/**
 * Errno atomicity: a failed call leaves every ctx's observable state (snapshotCtx) as it was,
 * except IOAS_UNMAP's documented partial success (some whole areas removed, and their pins
 * released); nothing but an IommufdError ever escapes.
 */
export const errnoAtomicity: Invariant = {
  name: 'errno-atomicity',
  title: 'a failed call changes nothing (except IOAS_UNMAP partial success)',
  check({ step, world }): Violation | undefined {
    for (const c of step.calls) {
      if (c.ok) continue;
      if (c.exception !== undefined) {
        return {
          invariant: 'errno-atomicity',
          message: `${c.label} threw ${(c.exception as Error)?.message ?? c.exception} instead of failing with an errno`,
          witness: [
            `check(!(${c.varName} instanceof Error) || 'errno' in ${c.varName}, 'only IommufdError may escape');`,
          ],
        };
      }
      if (c.injected !== undefined && c.errno !== c.injected) {
        const message = `${c.label} failed with ${c.errno} where fail-nth injected ${c.injected}`;
        return { invariant: 'errno-atomicity', message, witness: [`check(false, ${lit(message)});`] };
      }
      const diff = changed(c);
      if (diff) {
        const message = `${c.label} failed with ${c.errno} but changed ${diff.what}`;
        const p = world.ctxProc.get(diff.ctx);
        const before = JSON.stringify(c.before!.get(diff.ctx));
        return {
          invariant: 'errno-atomicity',
          message,
          witness: [
            c.partialAllowed
              ? `check(false, ${lit(message)}); // compare snapshotCtx(fd${p}.ctx, p${p}) with ${lit(before)}`
              : `check(JSON.stringify(snapshotCtx(fd${p}.ctx, p${p})) === ${lit(before)}, ${lit(message)});`,
          ],
        };
      }
    }
    return undefined;
  },
};

function changed(c: CallRecord): { ctx: number; what: string } | undefined {
  const before = c.before!;
  const after = c.after!;
  for (const [key, b] of before) {
    const a = after.get(key);
    if (!a) return { ctx: key, what: `ctx ${key} (gone)` };
    const diff = c.partialAllowed ? partialUnmapDiff(b, a) : fullDiff(b, a);
    if (diff) return { ctx: key, what: `ctx ${key}: ${diff}` };
  }
  return undefined;
}

function fullDiff(b: CtxSnapshot, a: CtxSnapshot): string | undefined {
  for (const k of Object.keys(b) as Array<keyof CtxSnapshot>) {
    if (JSON.stringify(b[k]) !== JSON.stringify(a[k]))
      return `${k}: ${JSON.stringify(b[k])} → ${JSON.stringify(a[k])}`;
  }
  return undefined;
}
