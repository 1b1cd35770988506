import type { IommufdCtx } from '../../actors/iommufd/ctx.ts';
import type { IommufdDevice } from '../../actors/iommufd/device.ts';
import type { Iommufd } from '../../actors/iommufd-file.ts';
import { VfioDeviceFile } from '../../actors/vfio/vfio-device.ts';
import type { Rig } from './rig.ts';
import type { Dice } from './values.ts';

/**
 * The resources calls chain on, read from the live rig (so they are never out of date): a
 * process's fds by kind, a ctx's object IDs by type. Every pick is sometimes stale (an ID or fd
 * that was live once), foreign (another ctx's) or garbage, as syzkaller's resources are.
 */
export class Resources {
  /** Ctx id → every object ID it ever handed out. */
  readonly #seen = new Map<number, Set<number>>();

  constructor(
    readonly rig: Rig,
    readonly dice: Dice,
  ) {}

  /** Open iommufd fds of process `p` (mostly), or a closed/garbage one. */
  iommufd(p: number): Iommufd | undefined {
    const all = [...this.rig.iommufds[p]!.values()];
    const live = all.filter(
      (fd) => this.rig.procs[p]!.files.has(fd.fd) && this.rig.procs[p]!.files.get(fd.fd) === fd.file,
    );
    if (live.length > 0 && this.dice.chance(0.97)) return this.dice.pick(live);
    return all.length > 0 ? this.dice.pick(all) : undefined;
  }

  /** Fds of `p` whose file kind satisfies `kind`. */
  fdsOf(p: number, kind: (k: string) => boolean): number[] {
    const files = this.rig.procs[p]!.files;
    return files.fds().filter((fd) => kind(files.get(fd).kind));
  }

  /** Any fd number: an open one mostly, else a closed or never-opened one. */
  anyFd(p: number): number {
    const fds = this.rig.procs[p]!.files.fds();
    return fds.length > 0 && this.dice.chance(0.9)
      ? this.dice.pick(fds)
      : this.dice.pick([0, 1, 2, 99, -1, 3 + this.dice.int(12)]);
  }

  /** VFIO cdev fds of `p`: [fd, device name, bound]. */
  vfioFds(p: number): Array<{ fd: number; dev: string; bound: boolean }> {
    const out: Array<{ fd: number; dev: string; bound: boolean }> = [];
    for (const [fd, vd] of this.rig.vfios[p]!) {
      const files = this.rig.procs[p]!.files;
      if (files.has(fd) && files.get(fd) === vd.file)
        out.push({ fd, dev: vd.file.device.name, bound: vd.file.idev !== undefined });
    }
    return out;
  }

  /** Live object IDs of `ctx` of the given types. */
  live(ctx: IommufdCtx, types: readonly string[]): number[] {
    const seen = this.#seenOf(ctx);
    const out: number[] = [];
    for (const o of ctx.liveObjects()) {
      seen.add(o.id);
      if (types.includes(o.type)) out.push(o.id);
    }
    return out;
  }

  /** An object ID for a field that wants one of `types`: live mostly; else wrong-typed, stale, foreign or garbage. */
  id(ctx: IommufdCtx | undefined, types: readonly string[]): number {
    if (!ctx) return this.dice.edgeU32();
    const live = this.live(ctx, types);
    const r = this.dice.int(100);
    if (live.length > 0 && r < 86) return this.dice.pick(live);
    if (r < 90) {
      const any = this.live(ctx, [
        'IOAS',
        'HWPT_PAGING',
        'HWPT_NESTED',
        'DEVICE',
        'VIOMMU',
        'VDEVICE',
        'FAULT',
        'VEVENTQ',
        'HW_QUEUE',
        'ACCESS',
        'SELFTEST',
      ]);
      if (any.length > 0) return this.dice.pick(any);
    }
    if (r < 94) {
      const gone = [...this.#seenOf(ctx)].filter((id) => ctx.objects.tryGet(id) === undefined);
      if (gone.length > 0) return this.dice.pick(gone);
    }
    if (r < 97) {
      const others = this.rig.liveIommufds().filter((x) => x.fd.ctx !== ctx);
      if (others.length > 0) {
        const ids = this.live(this.dice.pick(others).fd.ctx, types);
        if (ids.length > 0) return this.dice.pick(ids);
      }
    }
    return this.dice.chance(0.5) ? this.dice.int(12) : this.dice.edgeU32();
  }

  /** DEVICE objects of a ctx with the kernel device they bind. */
  devices(ctx: IommufdCtx): IommufdDevice[] {
    return ctx.liveObjects().filter((o) => o.type === 'DEVICE') as IommufdDevice[];
  }

  #seenOf(ctx: IommufdCtx): Set<number> {
    let s = this.#seen.get(ctx.id);
    if (!s) {
      s = new Set();
      this.#seen.set(ctx.id, s);
    }
    return s;
  }
}

export { VfioDeviceFile };
