import { IOCTL_TABLE } from '../../actors/iommufd/ioctl-table.ts';
import type { StructLayout } from '../../actors/iommufd/struct.ts';
import {
  vfio_device_attach_iommufd_pt,
  vfio_device_bind_iommufd,
  vfio_device_detach_iommufd_pt,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
} from '../../actors/iommufd/uapi-structs-vfio.ts';
import * as V from '../../actors/iommufd/uapi-vfio.ts';
import { type FuzzCall, hex } from './call.ts';
import { type Gen, iommufdFields, iova, userVa } from './grammar-iommufd.ts';
import { testCmdFields } from './grammar-test-cmd.ts';
import { mutateStruct } from './mutate.ts';
import type { Resources } from './resources.ts';
import { RIG_DEVICES, type Rig } from './rig.ts';
import type { Dice } from './values.ts';

export interface GrammarOptions {
  /**
   * Typed calls may also set `size` to 2^32-1 (the library then lays out a 4 GiB struct,
   * which blocks the process: only for runs under a wall-clock watchdog).
   */
  readonly hugeTypedSizes?: boolean;
}

const IOCTL_NAMES = IOCTL_TABLE.map((e) => e.name).filter((n) => n !== 'IOMMU_TEST_CMD');
const ANON = (k: string) => k.startsWith('[') || k.includes('access');

type Kind = 'ioctl' | 'test' | 'raw' | 'vfio' | 'vfioRaw' | 'compat' | 'open' | 'close' | 'anon' | 'mmap';
const KINDS: ReadonlyArray<readonly [number, Kind]> = [
  [38, 'ioctl'],
  [10, 'test'],
  [12, 'raw'],
  [14, 'vfio'],
  [3, 'vfioRaw'],
  [9, 'compat'],
  [3, 'open'],
  [2, 'close'],
  [5, 'anon'],
  [2, 'mmap'],
];

/** Draws the next call from the live state: the grammar of every ioctl and file operation. */
export function nextCall(dice: Dice, rig: Rig, res: Resources, opts: GrammarOptions = {}): FuzzCall {
  const p = dice.int(rig.procs.length);
  const fd = res.iommufd(p);
  const g: Gen = { dice, res, ctx: fd?.ctx, memfd: rig.memfds[p]! };
  const kind = dice.weighted(KINDS);
  const fdNo = fd?.fd ?? 3;
  switch (kind) {
    case 'ioctl': {
      const name = dice.pick(IOCTL_NAMES);
      const { fields, payload } = iommufdFields(name, g);
      if (dice.chance(0.03)) fields.size = sizeEdge(dice, opts);
      return { k: 'ioctl', p, fd: fdNo, name, fields, ...(payload ? { payload } : {}) };
    }
    case 'test': {
      const access = res.fdsOf(p, (k) => k.includes('access'));
      return { k: 'ioctl', p, fd: fdNo, name: 'IOMMU_TEST_CMD', fields: testCmdFields(g, access) };
    }
    case 'raw': {
      const entry = dice.pick(IOCTL_TABLE);
      const typed =
        entry.name === 'IOMMU_TEST_CMD'
          ? {
              fields: testCmdFields(
                g,
                res.fdsOf(p, (k) => k.includes('access')),
              ),
            }
          : iommufdFields(entry.name, g);
      const struct = mutateStruct(
        dice,
        entry.layout as StructLayout<object>,
        typed.fields,
        'size',
        entry.minSize,
      );
      const cmd = dice.chance(0.95)
        ? entry.cmd
        : dice.pick([0x3b00 + dice.int(256), dice.edgeU32() & 0xffff]);
      return {
        k: 'raw',
        p,
        fd: fdNo,
        cmd,
        struct: hex(struct),
        ...argEdge(dice),
        ...(typed.payload ? { payload: typed.payload } : {}),
      };
    }
    case 'vfio':
    case 'vfioRaw':
      return vfioCall(dice, rig, res, p, fdNo, kind === 'vfioRaw');
    case 'compat':
      return compatCall(dice, g, p, fdNo);
    case 'open':
      return dice.chance(res.iommufd(p)?.ctx.closed === false ? 0.1 : 0.8)
        ? { k: 'open', p, what: 'iommufd' }
        : { k: 'open', p, what: 'vfio', dev: dice.chance(0.95) ? dice.pick(RIG_DEVICES).name : 'nope' };
    case 'close': {
      // The /dev/iommu fds go rarely: closing one throws away everything built on it.
      const files = rig.procs[p]!.files;
      const fds = files.fds().filter((f) => f !== rig.memfds[p]);
      const light = fds.filter((f) => files.get(f).kind !== 'iommufd');
      const from = light.length > 0 && dice.chance(0.85) ? light : fds;
      return { k: 'close', p, fd: from.length > 0 && dice.chance(0.95) ? dice.pick(from) : res.anyFd(p) };
    }
    case 'anon': {
      const anon = res.fdsOf(p, ANON);
      const target = anon.length > 0 && dice.chance(0.9) ? dice.pick(anon) : res.anyFd(p);
      const op = dice.int(3);
      if (op === 0) return { k: 'read', p, fd: target, count: dice.pick([0, 8, 16, 40, 48, 80, 4096, 7]) };
      if (op === 1) {
        const n = dice.pick([8, 16, 0, 3, 24]);
        const bytes = new Uint8Array(n);
        if (n >= 8) {
          new DataView(bytes.buffer).setUint32(0, dice.int(4), true);
          new DataView(bytes.buffer).setUint32(4, dice.pick([0, 1, 2]), true);
        }
        return { k: 'write', p, fd: target, bytes: hex(bytes) };
      }
      return { k: 'poll', p, fd: target };
    }
    case 'mmap':
      return {
        k: 'mmap',
        p,
        fd: dice.chance(0.9) ? fdNo : res.anyFd(p),
        offset: dice.chance(0.8) ? BigInt(1 + dice.int(4)) * 4096n : dice.edgeU64() & ~0xfffn,
        length: dice.pick([4096n, 8192n, 0x10000n]),
      };
  }
}

function sizeEdge(dice: Dice, opts: GrammarOptions): number {
  const edges = [0, 4, 7, 12, 1024];
  if (opts.hugeTypedSizes) edges.push(0xffff_ffff);
  return dice.pick(edges);
}

/** Mostly the scratch VA; sometimes NULL or a pointer nothing is mapped at. */
function argEdge(dice: Dice): { arg?: bigint | null } {
  const r = dice.int(40);
  if (r === 0) return { arg: null };
  if (r === 1) return { arg: dice.pick([0x10n, 0x7000_0000n, (1n << 64n) - 8n]) };
  return {};
}

function vfioCall(dice: Dice, rig: Rig, res: Resources, p: number, iommufd: number, raw: boolean): FuzzCall {
  const vfios = res.vfioFds(p);
  const all = [...rig.vfios[p]!.keys()];
  const fd =
    vfios.length > 0 && dice.chance(0.95) ? dice.pick(vfios).fd : all.length > 0 ? dice.pick(all) : -1;
  if (fd < 0) return { k: 'open', p, what: 'vfio', dev: dice.pick(RIG_DEVICES).name };
  const which = dice.weighted([
    [3, 'bind'],
    [5, 'attach'],
    [2, 'detach'],
  ] as const);
  const pasidFlag = dice.chance(0.35) ? 1 : 0;
  const pasid = pasidFlag ? dice.pick([0, 1, 2, 5, 255, 1 << 19, (1 << 20) - 1, dice.edgeU32()]) : 0;
  const ctx = rig.iommufds[p]!.get(iommufd)?.ctx;
  let name: string;
  let fields: Record<string, unknown>;
  let layout: StructLayout<object>;
  let cmd: number;
  if (which === 'bind') {
    name = 'VFIO_DEVICE_BIND_IOMMUFD';
    fields = { flags: dice.maybe(0, 0.05), iommufd: dice.chance(0.9) ? iommufd : res.anyFd(p) };
    layout = vfio_device_bind_iommufd as StructLayout<object>;
    cmd = V.VFIO_DEVICE_BIND_IOMMUFD;
  } else if (which === 'attach') {
    name = 'VFIO_DEVICE_ATTACH_IOMMUFD_PT';
    fields = {
      flags: dice.maybe(pasidFlag, 0.05),
      pt_id: res.id(ctx, ['IOAS', 'HWPT_PAGING', 'HWPT_NESTED']),
      pasid,
    };
    layout = vfio_device_attach_iommufd_pt as StructLayout<object>;
    cmd = V.VFIO_DEVICE_ATTACH_IOMMUFD_PT;
  } else {
    name = 'VFIO_DEVICE_DETACH_IOMMUFD_PT';
    fields = { flags: dice.maybe(pasidFlag, 0.05), pasid };
    layout = vfio_device_detach_iommufd_pt as StructLayout<object>;
    cmd = V.VFIO_DEVICE_DETACH_IOMMUFD_PT;
  }
  if (!raw) return { k: 'vfio', p, fd, name, fields };
  const minSize = layout.offsetofend((layout.fields[3]?.name ?? 'flags') as never);
  return {
    k: 'raw',
    p,
    fd,
    cmd,
    struct: hex(mutateStruct(dice, layout, fields, 'argsz', minSize)),
    ...argEdge(dice),
  };
}

/** VFIO type1 container ioctls on /dev/iommu: integer-argument ones and struct ones. */
function compatCall(dice: Dice, g: Gen, p: number, fd: number): FuzzCall {
  const { dice: d } = g;
  const op = d.weighted([
    [1, V.VFIO_GET_API_VERSION],
    [2, V.VFIO_CHECK_EXTENSION],
    [2, V.VFIO_SET_IOMMU],
    [2, V.VFIO_IOMMU_GET_INFO],
    [6, V.VFIO_IOMMU_MAP_DMA],
    [5, V.VFIO_IOMMU_UNMAP_DMA],
    [1, V.VFIO_IOMMU_DIRTY_PAGES],
  ]);
  if (op === V.VFIO_CHECK_EXTENSION || op === V.VFIO_SET_IOMMU || op === V.VFIO_GET_API_VERSION) {
    return { k: 'raw', p, fd, cmd: op, arg: d.chance(0.9) ? BigInt(d.int(12)) : d.edgeU64() };
  }
  let layout: StructLayout<object>;
  let fields: Record<string, unknown>;
  if (op === V.VFIO_IOMMU_MAP_DMA) {
    layout = vfio_iommu_type1_dma_map as StructLayout<object>;
    fields = {
      flags: d.chance(0.9) ? d.int(4) : d.edgeU32(),
      vaddr: userVa(g),
      iova: iova(g),
      size: d.length(8),
    };
  } else if (op === V.VFIO_IOMMU_UNMAP_DMA) {
    layout = vfio_iommu_type1_dma_unmap as StructLayout<object>;
    fields = d.chance(0.15)
      ? { flags: 2, iova: 0n, size: 0n }
      : { flags: d.maybe(0, 0.05), iova: iova(g), size: d.length(16) };
  } else {
    layout = vfio_iommu_type1_info as StructLayout<object>;
    fields = { flags: 0 };
  }
  const minSize = layout.sizeof >= 24 ? 24 : layout.sizeof;
  const bytes = dice.chance(0.8)
    ? layout.encode({ argsz: layout.sizeof, ...fields } as never)
    : mutateStruct(dice, layout, fields, 'argsz', minSize);
  return { k: 'raw', p, fd, cmd: op, struct: hex(bytes), ...argEdge(dice) };
}
