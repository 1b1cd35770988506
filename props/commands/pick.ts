import type { CtxModel, DeviceModel, IoasModel, Model } from '../model/model.ts';

/** The element at `pos`, wrapping; undefined for an empty list. */
export function at<T>(list: readonly T[], pos: number): T | undefined {
  return list.length === 0 ? undefined : list[pos % list.length];
}

/** The open ctx of the process at `pos`. */
export function ctxOfProc(m: Readonly<Model>, pos: number): CtxModel | undefined {
  const proc = at(m.procs, pos);
  return proc?.ctx === undefined ? undefined : m.ctxs.get(proc.ctx);
}

/** Devices bound to some ctx, in device order. */
export function boundDevices(m: Readonly<Model>): DeviceModel[] {
  return m.devices.filter((d) => d.bound !== undefined);
}

/** Devices on the host of the process at `pos` that no ctx has bound. */
export function unboundDevicesNear(m: Readonly<Model>, pos: number): DeviceModel[] {
  const proc = at(m.procs, pos);
  return proc ? m.devices.filter((d) => d.host === proc.host && d.bound === undefined) : [];
}

export function ioasAt(ctx: CtxModel, pos: number): IoasModel | undefined {
  return at(ctx.ioas, pos);
}

/** Process index whose memory `dev` is meant to reach (its ctx's, or its group's domain's); 0xff for none. */
export function ownerProc(m: Readonly<Model>, dev: number): number {
  const d = m.devices[dev]!;
  const key = d.bound ?? m.groups.get(d.group)!.domains.values().next().value?.ctx;
  const ctx = key === undefined ? undefined : m.ctxs.get(key);
  return ctx ? ctx.proc : 0xff;
}

/** An IOAS with the ctx it belongs to. */
export interface IoasTarget {
  readonly ctx: CtxModel;
  readonly ioas: IoasModel;
}

/**
 * Every live IOAS of every ctx, those a device translates through first, then those with a
 * domain, then the rest: low positions (which the arbitraries favour) hit where DMA looks.
 */
export function ioasTargets(m: Readonly<Model>): IoasTarget[] {
  const rank = (ctx: CtxModel, ioas: IoasModel) => {
    const hwpts = ctx.hwpts.filter((h) => h.ioas === ioas.id);
    const used = new Set([...ctx.attach.values()].map((a) => a.hwpt));
    if (hwpts.some((h) => used.has(h.id))) return 0;
    return hwpts.length > 0 ? 1 : 2;
  };
  const all = [...m.ctxs.values()].flatMap((ctx) =>
    ctx.ioas.map((ioas) => ({ ctx, ioas, r: rank(ctx, ioas) })),
  );
  return all.sort((a, b) => a.r - b.r).map(({ ctx, ioas }) => ({ ctx, ioas }));
}
