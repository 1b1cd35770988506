import { BUFFER_BYTES, BUFFER_VA } from '../world/tags.ts';
import type { FuzzCall } from './call.ts';
import type { Resources } from './resources.ts';
import { RIG_DEVICES, type Rig } from './rig.ts';
import type { Dice } from './values.ts';

/** A call decided when its turn comes, from the state the calls before it left. */
export type Intent = (rig: Rig, res: Resources) => FuzzCall | undefined;

/**
 * The opening of an epoch, as syzkaller starts from seed programs: each process allocates an
 * IOAS, opens a device (any: two processes often pick one group), binds it, attaches it
 * (sometimes at a PASID) and maps part of its buffer (after the attach, so the domain's
 * reserved ranges steer the IOVA), interleaved. The random grammar takes over
 * from the state this builds.
 */
export function seedProgram(dice: Dice, rig: Rig): Intent[] {
  const perProc = rig.procs.map((_, p) => openingOf(dice, p));
  const out: Intent[] = [];
  while (perProc.some((l) => l.length > 0)) {
    const ready = perProc.filter((l) => l.length > 0);
    out.push(dice.pick(ready).shift()!);
  }
  return out;
}

function openingOf(dice: Dice, p: number): Intent[] {
  const dev = dice.pick(RIG_DEVICES);
  const pages = 1 + dice.int(8);
  const first = dice.int(BUFFER_BYTES / 4096 - pages + 1);
  const pasid = dev.pasidBits > 0 && dice.chance(0.3) ? 1 + dice.int(7) : undefined;
  const fdOf = (res: Resources) => res.iommufd(p)?.fd;
  const lastIoas = (res: Resources) => {
    const fd = res.iommufd(p);
    const ids = fd ? res.live(fd.ctx, ['IOAS']) : [];
    return ids.at(-1) ?? 1;
  };
  const lastVfio = (rig: Rig) => [...rig.vfios[p]!.keys()].at(-1);
  return [
    (_rig, res) => ({ k: 'ioctl', p, fd: fdOf(res) ?? 3, name: 'IOMMU_IOAS_ALLOC', fields: { flags: 0 } }),
    () => ({ k: 'open', p, what: 'vfio', dev: dev.name }),
    (rig, res) => {
      const fd = lastVfio(rig);
      return fd === undefined
        ? undefined
        : {
            k: 'vfio',
            p,
            fd,
            name: 'VFIO_DEVICE_BIND_IOMMUFD',
            fields: { flags: 0, iommufd: fdOf(res) ?? 3 },
          };
    },
    (rig, res) => {
      const fd = lastVfio(rig);
      return fd === undefined
        ? undefined
        : {
            k: 'vfio',
            p,
            fd,
            name: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT',
            fields: { flags: pasid === undefined ? 0 : 1, pt_id: lastIoas(res), pasid: pasid ?? 0 },
          };
    },
    (_rig, res) => ({
      k: 'ioctl',
      p,
      fd: fdOf(res) ?? 3,
      name: 'IOMMU_IOAS_MAP',
      fields: {
        flags: 6,
        ioas_id: lastIoas(res),
        user_va: BUFFER_VA + BigInt(first) * 4096n,
        length: BigInt(pages) * 4096n,
      },
    }),
  ];
}
