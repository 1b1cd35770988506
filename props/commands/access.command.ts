import {
  IOMMU_TEST_OP_ACCESS_PAGES,
  IOMMU_TEST_OP_CREATE_ACCESS,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
} from '../../actors/iommufd/uapi-selftest.ts';
import { intersecting } from '../model/areas.ts';
import type { AccessModel, CtxModel, Model } from '../model/model.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { at, ctxOfProc, ioasTargets } from './pick.ts';
import { UnmapCommand } from './unmap.command.ts';

export interface AccessArgs {
  proc: number;
  /** create: on the IOAS at this position; pin / close: the access at this position. */
  pos: number;
  op: 'create' | 'pin' | 'unmap' | 'close';
  /** pin: the area of the access's IOAS, and how many of its pages from which page. */
  area: number;
  first: number;
  pages: number;
}

/**
 * An in-kernel access, as an emulated device's driver holds one (IOMMU_TEST_OP_CREATE_ACCESS on a
 * selftest host): create it on an IOAS, pin pages of an area through it
 * (IOMMU_TEST_OP_ACCESS_PAGES), unmap an area it pinned, or close its fd. An IOAS_UNMAP over a
 * pinned range calls the access's unmap notifier, which drops the pin (the unmap command models
 * that).
 */
export class AccessCommand extends PropCommand<AccessArgs> {
  readonly verb = 'access';

  check(m: Readonly<Model>): boolean {
    const ctx = ctxOfProc(m, this.args.proc);
    if (!ctx) return false;
    return this.args.op === 'create' ? ctx.ioas.length > 0 : ctx.accesses.length > 0;
  }

  async exec(m: Model, w: World): Promise<void> {
    const ctx = ctxOfProc(m, this.args.proc)!;
    // A create pins right away: an access without pins is never told about an unmap.
    if (this.args.op === 'create' && !(await create(ctx, w, m, this.args.pos))) return;
    const access = this.args.op === 'create' ? ctx.accesses.at(-1)! : at(ctx.accesses, this.args.pos)!;
    if (this.args.op === 'close') return closeAccess(ctx, w, access.fd);
    if (this.args.op === 'unmap') {
      // Userspace unmaps what an emulated device still has pinned: the kernel must notify it.
      if (access.pins.length === 0) await this.#pin(ctx, w, access);
      const withAreas = ioasTargets(m).filter((t) => t.ioas.areas.length > 0);
      const pos = withAreas.findIndex((t) => t.ctx === ctx && t.ioas.id === access.ioas);
      if (pos < 0) return;
      const range = { kind: 'area' as const, pos: 0, span: 0, startDelta: 0n, endDelta: 0n };
      return new UnmapCommand({ ioas: pos, range, probe: 'after' }).exec(m, w);
    }
    await this.#pin(ctx, w, access);
  }

  async #pin(ctx: CtxModel, w: World, access: AccessModel): Promise<void> {
    const ioas = ctx.ioas.find((i) => i.id === access.ioas);
    const area = ioas && at(ioas.areas, this.args.area);
    // A page-sized step into the area (wrapping), so the pin ends at or before the area's end.
    const span = area ? (area.length + 0xfffn) / 0x1000n : 1n;
    const iova = area ? area.iova + (BigInt(this.args.first) % span) * 0x1000n : 0x100_0000n;
    const end = area ? area.iova + area.length : iova + 0x1000n;
    const length = bigMin(BigInt(Math.max(1, this.args.pages)) * 0x1000n, end - iova);
    const r = await w.ioctl(ctx.key, 'IOMMU_TEST_CMD', {
      op: IOMMU_TEST_OP_ACCESS_PAGES,
      id: access.fd,
      access_pages: { flags: 0, iova, length, uptr: 0n },
    });
    if (!r.ok || !ioas) return;
    access.pins.push({ iova, length, areas: intersecting(ioas, iova, iova + length - 1n) });
    w.note('access-pin');
  }
}

const bigMin = (a: bigint, b: bigint) => (a < b ? a : b);

async function create(ctx: CtxModel, w: World, m: Model, pos: number): Promise<boolean> {
  const targets = ioasTargets(m).filter((t) => t.ctx === ctx);
  const ioas = at(targets, pos)!.ioas;
  const fd = w.fds.get(ctx.key)!;
  const known = new Set(fd.ctx.liveObjects().map((o) => o.id));
  const r = await w.ioctl(ctx.key, 'IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_CREATE_ACCESS,
    id: ioas.id,
    create_access: { flags: MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES },
  });
  if (!r.ok) return false;
  const afd = (r.out.create_access as { out_access_fd: number }).out_access_fd;
  // The kernel hands out only the fd; the ACCESS object's ID is the one it just consumed.
  const obj = fd.ctx.liveObjects().find((o) => o.type === 'ACCESS' && !known.has(o.id));
  if (!obj) throw new Error('IOMMU_TEST_OP_CREATE_ACCESS succeeded without an ACCESS object');
  ctx.accesses.push({ id: obj.id, fd: afd, ioas: ioas.id, pins: [] });
  return true;
}

/** Closes an access fd: its pins go, then the ACCESS object (also before a ctx closes). */
export async function closeAccess(ctx: CtxModel, w: World, afd: number): Promise<void> {
  const proc = w.procs[ctx.proc]!;
  await w.action('close', `p${ctx.proc}.close(${afd})`, async () => proc.close(afd));
  const i = ctx.accesses.findIndex((a) => a.fd === afd);
  if (i >= 0) ctx.accesses.splice(i, 1);
}
