import type { IommufdDevice } from '../../actors/iommufd/device.ts';
import type { Iommufd } from '../../actors/iommufd-file.ts';

/** Throws unless `cond`: the assertion reproduction scripts end with. */
export function check(cond: boolean, message: string): void {
  if (!cond) throw new Error(`violation reproduced: ${message}`);
}

/** A ctx's live objects as `TYPE#id:users`, in ID order. */
export function objects(fd: Iommufd): string {
  return fd.ctx
    .liveObjects()
    .map((o) => `${o.type}#${o.id}:${o.users}`)
    .join(' ');
}

/** How many of these iommufds have a device of group `group` bound. */
export function groupOwners(fds: readonly Iommufd[], group: string): number {
  let n = 0;
  for (const fd of fds) {
    const owns = fd.ctx
      .liveObjects()
      .some((o) => o.type === 'DEVICE' && (o as IommufdDevice).kdev.group.name === group);
    if (owns) n++;
  }
  return n;
}
