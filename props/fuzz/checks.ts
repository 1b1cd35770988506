import { ERRNO, IommufdError } from '../../actors/iommufd/errno.ts';
import { type CtxSnapshot, partialUnmapDiff, snapshotCtx } from '../snapshot.ts';
import type { FuzzCall } from './call.ts';
import type { Outcome } from './exec.ts';
import type { FindingKind } from './finding.ts';
import type { Rig } from './rig.ts';
import { HangError } from './settle.ts';

/** Every live ctx's snapshot, keyed by ctx id. */
export function snapshotAll(rig: Rig): Map<number, CtxSnapshot> {
  const out = new Map<number, CtxSnapshot>();
  for (const { fd } of rig.liveIommufds()) out.set(fd.ctx.id, snapshotCtx(fd.ctx, fd.process));
  return out;
}

/** Calls the kernel documents as able to fail after removing some areas (IOAS_UNMAP, VFIO UNMAP_DMA). */
export function partialAllowed(c: FuzzCall): boolean {
  if (c.k === 'ioctl') return c.name === 'IOMMU_IOAS_UNMAP';
  if (c.k === 'raw') return c.cmd === 0x3b86 || c.cmd === 0x3b72;
  return c.k === 'close';
}

/** What is wrong with a call's outcome, if anything: a throw that is not an IommufdError, a bad errno, or a failure that changed state. */
export function judgeOutcome(
  c: FuzzCall,
  outcome: Outcome,
  before: Map<number, CtxSnapshot>,
  after: () => Map<number, CtxSnapshot>,
): { kind: FindingKind; message: string } | undefined {
  if (outcome.ok) return undefined;
  const err = outcome.err;
  if (err instanceof HangError) return { kind: 'hang', message: err.message };
  if (!IommufdError.is(err)) {
    const e = err as Error;
    return { kind: 'exception', message: `threw ${e?.name ?? typeof err}: ${e?.message ?? String(err)}` };
  }
  if (!Object.hasOwn(ERRNO, err.errno) || ERRNO[err.errno] !== err.code) {
    return { kind: 'errno', message: `errno ${err.errno} / code ${err.code} is not Linux's` };
  }
  const now = after();
  for (const [id, b] of before) {
    const a = now.get(id);
    if (!a) {
      if (c.k === 'close') continue;
      return { kind: 'atomicity', message: `failed with ${err.errno} but ctx ${id} is gone` };
    }
    const diff = partialAllowed(c) ? partialUnmapDiff(b, a) : fullDiff(b, a);
    if (diff)
      return { kind: 'atomicity', message: `failed with ${err.errno} but changed ctx ${id}: ${diff}` };
  }
  return undefined;
}

function fullDiff(b: CtxSnapshot, a: CtxSnapshot): string | undefined {
  for (const k of Object.keys(b) as Array<keyof CtxSnapshot>) {
    const x = JSON.stringify(b[k]);
    const y = JSON.stringify(a[k]);
    if (x !== y) return `${k}: ${x.slice(0, 200)} → ${y.slice(0, 200)}`;
  }
  return undefined;
}
