import {
  type AttachModel,
  attachKey,
  type CtxModel,
  type GroupDomain,
  type HwptModel,
  type Model,
  RID,
} from './model.ts';

/** The HWPT with this ID in `ctx`. */
export const hwptById = (ctx: CtxModel, id: number): HwptModel | undefined =>
  ctx.hwpts.find((h) => h.id === id);

/** Live object IDs of a ctx with their type, as the model knows them. */
export function modelObjects(ctx: CtxModel): Array<{ id: number; type: string }> {
  const out = [
    ...ctx.ioas.map((i) => ({ id: i.id, type: 'IOAS' })),
    ...ctx.hwpts.map((h) => ({ id: h.id, type: h.kind === 'paging' ? 'HWPT_PAGING' : 'HWPT_NESTED' })),
    ...[...ctx.devices.values()].map((id) => ({ id, type: 'DEVICE' })),
    ...ctx.accesses.map((a) => ({ id: a.id, type: 'ACCESS' })),
  ];
  return out.sort((a, b) => a.id - b.id);
}

/**
 * What `users` of each object must be: the table's own reference, plus one per dependent
 * (HWPT → IOAS, nested → parent, each device attachment → HWPT and → DEVICE, the binding
 * driver → DEVICE).
 */
export function expectedUsers(ctx: CtxModel): Map<number, number> {
  const users = new Map<number, number>();
  for (const i of ctx.ioas) users.set(i.id, 1);
  for (const h of ctx.hwpts) users.set(h.id, 1);
  for (const id of ctx.devices.values()) users.set(id, 2);
  // The selftest's access fd holds its ACCESS object; the access holds its IOAS.
  for (const a of ctx.accesses) users.set(a.id, 2);
  const bump = (id: number) => users.set(id, (users.get(id) ?? 0) + 1);
  for (const h of ctx.hwpts) {
    if (h.kind === 'paging') bump(h.ioas);
    else if (h.parent !== undefined) bump(h.parent);
  }
  for (const a of ctx.accesses) bump(a.ioas);
  for (const a of ctx.attach.values()) {
    for (const dev of a.devices) {
      bump(a.hwpt);
      bump(ctx.devices.get(dev)!);
    }
  }
  return users;
}

/** True while something holds `id` (DESTROY must fail EBUSY). */
export function isReferenced(ctx: CtxModel, id: number): boolean {
  return (expectedUsers(ctx).get(id) ?? 1) > 1;
}

/** IOASes of a ctx that hold at least one domain (their areas are pinned). */
export function ioasWithDomain(ctx: CtxModel): Set<number> {
  return new Set(ctx.hwpts.filter((h) => h.kind === 'paging').map((h) => h.ioas));
}

/** The attachment of `dev`'s group at `pasid` in `ctx`. */
export function attachmentOf(m: Model, ctx: CtxModel, dev: number, pasid: number): AttachModel | undefined {
  return ctx.attach.get(attachKey(m.devices[dev]!.group, pasid));
}

/** The (group, PASID) attachments `dev` is part of in `ctx`, PASIDs first (as unbind detaches). */
export function attachmentsOfDevice(m: Model, ctx: CtxModel, dev: number): number[] {
  const group = m.devices[dev]!.group;
  const out: number[] = [];
  for (const [k, a] of ctx.attach) {
    const [g, p] = splitKey(k);
    if (g === group && a.devices.has(dev)) out.push(p);
  }
  return out.sort((a, b) => b - a);
}

export function splitKey(k: string): [string, number] {
  const i = k.lastIndexOf('|');
  return [k.slice(0, i), Number(k.slice(i + 1))];
}

/** A device joins (or makes) its group's attachment at `pasid` with `hwpt`. */
export function applyAttach(m: Model, ctx: CtxModel, dev: number, pasid: number, hwpt: number): void {
  const group = m.devices[dev]!.group;
  const k = attachKey(group, pasid);
  const a = ctx.attach.get(k);
  if (a) a.devices.add(dev);
  else {
    ctx.attach.set(k, { hwpt, devices: new Set([dev]) });
    m.groups.get(group)!.domains.set(pasid, { ctx: ctx.key, hwpt });
  }
}

/** The whole group's attachment at `pasid` moves to `hwpt`. */
export function applyReplace(m: Model, ctx: CtxModel, dev: number, pasid: number, hwpt: number): void {
  const group = m.devices[dev]!.group;
  const a = ctx.attach.get(attachKey(group, pasid));
  if (!a) return;
  a.hwpt = hwpt;
  m.groups.get(group)!.domains.set(pasid, { ctx: ctx.key, hwpt });
  reapAutoDomains(ctx);
}

/** A device leaves its group's attachment; the last one out blocks the group. */
export function applyDetach(m: Model, ctx: CtxModel, dev: number, pasid: number): void {
  const group = m.devices[dev]!.group;
  const k = attachKey(group, pasid);
  const a = ctx.attach.get(k);
  if (!a?.devices.delete(dev)) return;
  if (a.devices.size === 0) {
    ctx.attach.delete(k);
    m.groups.get(group)!.domains.delete(pasid);
  }
  reapAutoDomains(ctx);
}

/** Auto-domains die with their last attachment. */
export function reapAutoDomains(ctx: CtxModel): void {
  const used = new Set([...ctx.attach.values()].map((a) => a.hwpt));
  for (let i = ctx.hwpts.length - 1; i >= 0; i--) {
    const h = ctx.hwpts[i]!;
    if (h.auto && !used.has(h.id)) ctx.hwpts.splice(i, 1);
  }
}

/** Unbind: every attachment of the device goes (PASIDs first), then its DEVICE object. */
export function applyUnbind(m: Model, ctx: CtxModel, dev: number): void {
  for (const pasid of attachmentsOfDevice(m, ctx, dev)) applyDetach(m, ctx, dev, pasid);
  ctx.devices.delete(dev);
  m.devices[dev]!.bound = undefined;
}

/** Close: every device of the ctx unbinds and every object goes. */
export function applyClose(m: Model, ctx: CtxModel): void {
  for (const dev of [...ctx.devices.keys()]) applyUnbind(m, ctx, dev);
  for (const g of m.groups.values()) {
    for (const [pasid, d] of [...g.domains]) if (d.ctx === ctx.key) g.domains.delete(pasid);
  }
  m.ctxs.delete(ctx.key);
  m.procs[ctx.proc]!.ctx = undefined;
}

/** The domain `dev` translates through at `pasid` (RID when undefined), if any. */
export function domainOf(m: Model, dev: number, pasid: number | undefined): GroupDomain | undefined {
  return m.groups.get(m.devices[dev]!.group)!.domains.get(pasid ?? RID);
}

/** Ctxs that have a device of `group` bound. */
export function groupOwners(m: Model, group: string): Set<number> {
  const owners = new Set<number>();
  for (const d of m.groups.get(group)!.devices) {
    const b = m.devices[d]!.bound;
    if (b !== undefined) owners.add(b);
  }
  return owners;
}
