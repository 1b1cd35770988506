import type { IommufdCtx } from '../../actors/iommufd/ctx.ts';
import type { Ioas } from '../../actors/iommufd/ioas.ts';
import { MOCK_APERTURE_START } from '../../actors/iommufd/uapi-selftest.ts';
import { BUFFER_BYTES, BUFFER_VA } from '../world/tags.ts';
import { hex, type Payload } from './call.ts';
import type { Resources } from './resources.ts';
import { FILE_BYTES, FILE_VA, PAYLOAD_VA, SCRATCH_VA } from './rig.ts';
import type { Dice } from './values.ts';

export type Fields = Record<string, unknown>;

export interface Gen {
  readonly dice: Dice;
  readonly res: Resources;
  readonly ctx: IommufdCtx | undefined;
  /** The memfd behind FILE_VA in the calling process. */
  readonly memfd: number;
}

const HWPT = ['HWPT_PAGING', 'HWPT_NESTED'];
const PT = ['IOAS', 'HWPT_PAGING', 'HWPT_NESTED'];
const PAGE = 4096n;

/** An IOVA: in the mock aperture (every vendor maps there), next to a mapped area, or an edge. */
export function iova(g: Gen): bigint {
  const { dice } = g;
  const r = dice.int(10);
  if (r < 6) return BigInt(MOCK_APERTURE_START) + BigInt(dice.int(64)) * PAGE;
  if (r < 8 && g.ctx) {
    const areas = g.ctx
      .liveObjects()
      .flatMap((o) => (o.type === 'IOAS' ? [...(o as Ioas).iopt.areas.all()] : []));
    if (areas.length > 0) {
      const a = dice.pick(areas);
      return dice.pick([a.start, a.last + 1n, a.start + PAGE, a.start - PAGE, a.start + 0x800n]);
    }
  }
  return dice.edgeU64();
}

/** A mapped area of IOAS `id` of the caller's ctx, if it has one. */
function areaOf(g: Gen, id: number): { start: bigint; last: bigint } | undefined {
  const ioas = g.ctx?.objects.tryGet(id);
  if (ioas?.type !== 'IOAS') return undefined;
  const areas = [...(ioas as Ioas).iopt.areas.all()];
  return areas.length > 0 ? g.dice.pick(areas) : undefined;
}

/** A user VA and length: inside the tagged buffer mostly, else anywhere. */
function bufferRange(g: Gen): { user_va: bigint; length: bigint } {
  if (g.dice.chance(0.2)) return { user_va: userVa(g), length: g.dice.length(8) };
  const pages = 1 + g.dice.int(8);
  const first = g.dice.int(BUFFER_BYTES / 4096 - pages + 1);
  return { user_va: BUFFER_VA + BigInt(first) * PAGE, length: BigInt(pages) * PAGE };
}

/** A user VA: in the tagged buffer mostly, else the memfd mapping, scratch, unmapped or an edge. */
export function userVa(g: Gen): bigint {
  const r = g.dice.int(10);
  if (r < 7)
    return BUFFER_VA + BigInt(g.dice.int(BUFFER_BYTES / 4096)) * PAGE + (g.dice.chance(0.05) ? 0x10n : 0n);
  if (r < 8) return FILE_VA + BigInt(g.dice.int(FILE_BYTES / 4096)) * PAGE;
  if (r < 9) return g.dice.pick([SCRATCH_VA, 0x7000_0000n, 0n]);
  return g.dice.edgeU64();
}

function payload(bytes: Uint8Array): Payload {
  return { va: PAYLOAD_VA, bytes: hex(bytes) };
}

/** Fields (and a payload their pointers name) for a typed iommufd ioctl. */
export function iommufdFields(name: string, g: Gen): { fields: Fields; payload?: Payload } {
  const { dice, res, ctx } = g;
  const id = (types: readonly string[]) => res.id(ctx, types);
  const flags = (good: number, bits: number) =>
    dice.chance(0.9) ? good : dice.chance(0.5) ? dice.int(1 << bits) : dice.edgeU32();
  switch (name) {
    case 'IOMMU_DESTROY':
      return {
        fields: {
          id: id([
            'IOAS',
            'HWPT_PAGING',
            'HWPT_NESTED',
            'VIOMMU',
            'VDEVICE',
            'FAULT',
            'VEVENTQ',
            'HW_QUEUE',
            'DEVICE',
            'ACCESS',
            'SELFTEST',
          ]),
        },
      };
    case 'IOMMU_IOAS_ALLOC':
      return { fields: { flags: flags(0, 2) } };
    case 'IOMMU_IOAS_ALLOW_IOVAS': {
      const n = dice.int(3);
      const bytes = new Uint8Array(16 * n);
      const dv = new DataView(bytes.buffer);
      for (let i = 0; i < n; i++) {
        const start = iova(g);
        dv.setBigUint64(16 * i, start, true);
        dv.setBigUint64(16 * i + 8, dice.chance(0.8) ? start + dice.length(4096) - 1n : dice.edgeU64(), true);
      }
      return {
        fields: { ioas_id: id(['IOAS']), num_iovas: dice.maybe(n), allowed_iovas: PAYLOAD_VA },
        payload: payload(bytes),
      };
    }
    case 'IOMMU_IOAS_COPY':
      return {
        fields: {
          flags: flags(dice.pick([4, 6, 5, 7]), 4),
          dst_ioas_id: id(['IOAS']),
          src_ioas_id: id(['IOAS']),
          length: dice.length(8),
          dst_iova: iova(g),
          src_iova: iova(g),
        },
      };
    case 'IOMMU_IOAS_IOVA_RANGES':
      return {
        fields: {
          ioas_id: id(['IOAS']),
          num_iovas: dice.pick([0, 1, 4, 256]),
          allowed_iovas: dice.chance(0.8) ? PAYLOAD_VA : dice.edgeU64(),
        },
      };
    case 'IOMMU_IOAS_MAP':
      return {
        fields: {
          flags: flags(dice.pick([6, 6, 6, 7, 7, 4, 2, 1]), 4),
          ioas_id: id(['IOAS']),
          ...bufferRange(g),
          iova: iova(g),
        },
      };
    case 'IOMMU_IOAS_MAP_FILE':
      return {
        fields: {
          flags: flags(dice.pick([6, 7, 5, 3]), 4),
          ioas_id: id(['IOAS']),
          fd: dice.chance(0.9) ? g.memfd : res.anyFd(0),
          start: dice.maybe(BigInt(dice.int(FILE_BYTES / 4096)) * PAGE),
          length: dice.length(8),
          iova: iova(g),
        },
      };
    case 'IOMMU_IOAS_UNMAP': {
      const ioas = id(['IOAS']);
      if (dice.chance(0.15)) return { fields: { ioas_id: ioas, iova: 0n, length: (1n << 64n) - 1n } };
      const area = areaOf(g, ioas);
      if (area && dice.chance(0.7)) {
        const whole = area.last - area.start + 1n;
        return {
          fields: { ioas_id: ioas, iova: area.start, length: dice.chance(0.8) ? whole : dice.length(4) },
        };
      }
      return { fields: { ioas_id: ioas, iova: iova(g), length: dice.length(16) } };
    }
    case 'IOMMU_OPTION': {
      const option_id = dice.maybe(dice.int(2));
      return {
        fields: {
          option_id,
          op: dice.chance(0.9) ? dice.int(2) : dice.int(0x10000),
          object_id: option_id === 1 ? id(['IOAS']) : dice.chance(0.9) ? 0 : id(['IOAS']),
          val64: dice.maybe(BigInt(dice.int(2))),
        },
      };
    }
    case 'IOMMU_VFIO_IOAS':
      return {
        fields: {
          ioas_id: id(['IOAS']),
          op: dice.chance(0.95)
            ? dice.weighted([
                [1, 0],
                [4, 1],
                [1, 2],
              ])
            : dice.int(0x10000),
        },
      };
    case 'IOMMU_HWPT_ALLOC': {
      const f = flags(dice.pick([0, 0, 1, 2, 8, 9, 4]), 5);
      const nested = dice.chance(0.3);
      const data = nested ? dice.bytes(dice.pick([8, 16, 24, 32])) : new Uint8Array(0);
      if (nested && dice.chance(0.5)) data.fill(0);
      return {
        fields: {
          flags: f,
          dev_id: id(['DEVICE']),
          pt_id: nested ? id(['HWPT_PAGING', 'VIOMMU']) : id(PT),
          data_type: nested ? dice.pick([1, 2, 3, 0xdead, dice.edgeU32()]) : dice.maybe(0),
          data_len: data.length,
          data_uptr: data.length > 0 ? PAYLOAD_VA : 0n,
          fault_id: f & 4 ? id(['FAULT']) : dice.maybe(0),
        },
        payload: payload(data),
      };
    }
    case 'IOMMU_GET_HW_INFO':
      return {
        fields: {
          flags: flags(0, 2),
          dev_id: id(['DEVICE']),
          data_len: dice.pick([0, 8, 16, 32, 64, 4096]),
          data_uptr: dice.chance(0.9) ? PAYLOAD_VA : dice.edgeU64(),
          in_data_type: dice.maybe(0),
        },
      };
    case 'IOMMU_HWPT_SET_DIRTY_TRACKING':
      return { fields: { flags: flags(dice.int(2), 3), hwpt_id: id(HWPT) } };
    case 'IOMMU_HWPT_GET_DIRTY_BITMAP':
      return {
        fields: {
          hwpt_id: id(HWPT),
          flags: flags(dice.int(2), 3),
          iova: iova(g),
          length: dice.length(16),
          page_size: dice.maybe(dice.pick([4096n, 2048n])),
          data: dice.chance(0.9) ? PAYLOAD_VA : dice.edgeU64(),
        },
      };
    case 'IOMMU_HWPT_INVALIDATE': {
      const entryLen = dice.pick([8, 16, 24, 32]);
      const n = dice.int(3);
      const bytes = dice.chance(0.5) ? new Uint8Array(entryLen * n) : dice.bytes(entryLen * n);
      return {
        fields: {
          hwpt_id: id(['HWPT_NESTED', 'VIOMMU', 'HWPT_PAGING']),
          data_uptr: PAYLOAD_VA,
          data_type: dice.pick([0, 1, 0xdeadbeef, 0xdadbeef, dice.edgeU32()]),
          entry_len: dice.maybe(entryLen),
          entry_num: dice.maybe(n),
        },
        payload: payload(bytes),
      };
    }
    case 'IOMMU_FAULT_QUEUE_ALLOC':
      return { fields: { flags: flags(0, 2) } };
    case 'IOMMU_VIOMMU_ALLOC': {
      const data = dice.chance(0.7) ? new Uint8Array(0) : dice.bytes(16);
      return {
        fields: {
          flags: flags(0, 2),
          type: dice.pick([0, 1, 2, 0xdeadbeef, dice.edgeU32()]),
          dev_id: id(['DEVICE']),
          hwpt_id: id(['HWPT_PAGING']),
          data_len: data.length,
          data_uptr: data.length ? PAYLOAD_VA : 0n,
        },
        payload: payload(data),
      };
    }
    case 'IOMMU_VDEVICE_ALLOC':
      return {
        fields: {
          viommu_id: id(['VIOMMU']),
          dev_id: id(['DEVICE']),
          virt_id: dice.maybe(BigInt(dice.int(8))),
        },
      };
    case 'IOMMU_IOAS_CHANGE_PROCESS':
      return { fields: { __reserved: dice.maybe(0) } };
    case 'IOMMU_VEVENTQ_ALLOC':
      return {
        fields: {
          flags: flags(0, 2),
          viommu_id: id(['VIOMMU']),
          type: dice.pick([0, 1, 2, 0xbeefbeef, dice.edgeU32()]),
          veventq_depth: dice.maybe(dice.pick([1, 2, 16])),
        },
      };
    case 'IOMMU_HW_QUEUE_ALLOC':
      return {
        fields: {
          flags: flags(0, 2),
          viommu_id: id(['VIOMMU']),
          type: dice.pick([0, 1, 0xdeadbeef]),
          index: dice.maybe(dice.int(3)),
          nesting_parent_iova: iova(g),
          length: dice.length(2),
        },
      };
    default:
      return { fields: {} };
  }
}
