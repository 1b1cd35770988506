import type { CtxModel, Model } from '../model/model.ts';
import type { CallResult, World } from '../world/world.ts';

const PAGE = 4096n;

/**
 * Counts an unwind part-way: a domain fill (HWPT alloc or attach on an IOAS with several areas)
 * that ran out of RLIMIT_MEMLOCK after the first area fitted, so the kernel had pinned and mapped
 * some areas before it undid them.
 */
export function noteFillUnwind(m: Model, w: World, ctx: CtxModel, ioasId: number, r: CallResult): void {
  if (r.ok || r.errno !== 'ENOMEM' || !w.coverage) return;
  const ioas = ctx.ioas.find((i) => i.id === ioasId);
  if (!ioas || ioas.areas.length < 2) return;
  const spec = m.topology.hosts.flatMap((h) => h.processes)[ctx.proc];
  if (spec?.memlockPages === undefined) return;
  const proc = w.procs[ctx.proc]!;
  const room = BigInt(spec.memlockPages) - proc.user.lockedPages;
  const first = ioas.areas[0]!;
  const pages = (first.uva + first.length + PAGE - 1n) / PAGE - first.uva / PAGE;
  if (pages <= room) w.note('unwind-partway');
}
