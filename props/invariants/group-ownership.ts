import type { IommufdDevice } from '../../actors/iommufd/device.ts';
import { lit } from '../world/code.ts';
import type { Invariant, Violation } from './invariant.ts';

/**
 * Group ownership: the devices of one iommu_group are unbound or bound to the same ctx, and the
 * IOMMU core's DMA owner of a group is that ctx exactly while one of its devices is bound.
 */
export const groupOwnership: Invariant = {
  name: 'group-ownership',
  title: 'devices of one group are unbound or owned by the same ctx',
  check({ world }): Violation | undefined {
    const owners = new Map<object, Set<object>>();
    for (const fd of [...world.fds.values(), ...world.closed.values()]) {
      for (const obj of fd.ctx.liveObjects()) {
        if (obj.type !== 'DEVICE') continue;
        const group = (obj as IommufdDevice).kdev.group;
        let set = owners.get(group);
        if (!set) owners.set(group, (set = new Set()));
        set.add(fd.ctx);
      }
    }
    for (const host of world.hosts) {
      for (const [name, group] of host.core.groups) {
        const ctxs = owners.get(group) ?? new Set();
        const where = `${host.name} group ${name}`;
        const fds = [...world.fds.values()].map((fd) => `fd${world.procs.indexOf(fd.process)}`).join(', ');
        const witness = [
          `check(groupOwners([${fds}], ${lit(name)}) <= 1, ${lit(`${where} is owned by several ctxs`)});`,
        ];
        if (ctxs.size > 1)
          return {
            invariant: 'group-ownership',
            message: `${where}: devices bound to ${ctxs.size} different ctxs`,
            witness,
          };
        const owner = ctxs.values().next().value;
        if (owner !== undefined && group.owner !== owner) {
          return {
            invariant: 'group-ownership',
            message: `${where}: bound in a ctx that is not its DMA owner`,
            witness,
          };
        }
        if (owner === undefined && group.owner !== undefined) {
          return {
            invariant: 'group-ownership',
            message: `${where}: DMA owner kept with no device bound`,
            witness,
          };
        }
      }
    }
    return undefined;
  },
};
