import type { StructInput, StructLayout, ValueOf } from '../iommufd/struct.ts';
import {
  iommu_hwpt_invalidate_selftest,
  iommu_hwpt_selftest,
  iommu_viommu_invalidate_selftest,
  iommu_viommu_selftest,
} from '../iommufd/uapi-structs-selftest.ts';
import {
  iommu_hwpt_amd_guest,
  iommu_hwpt_arm_smmuv3,
  iommu_hwpt_vtd_s1,
  iommu_hwpt_vtd_s1_invalidate,
  iommu_viommu_arm_smmuv3_invalidate,
  iommu_viommu_tegra241_cmdqv,
} from '../iommufd/uapi-structs-vendor.ts';
import type { Scratch } from './scratch.ts';

type Fields = Record<string, unknown>;
type AnyLayout = StructLayout<object>;

/**
 * How a typed call turns JS values in pointer fields into user memory and back: `before` may
 * place data and fill the struct's pointer and length fields; `after` reads results out.
 * `In` and `Out` exist only for the types: the JS values the pointer fields take beside a user
 * VA, and the extra outputs `after` adds (see ioctl-types.ts).
 */
export interface Marshal<In extends object = object, Out extends object = object> {
  before?(fields: Fields, scratch: Scratch, state: Fields): void;
  after?(fields: Fields, out: Fields, scratch: Scratch, state: Fields): void;
  readonly types?: { readonly in: In; readonly out: Out };
}

/** Declares what a marshaller accepts and produces, for the ioctl types; the code is unchanged. */
function marshal<In extends object, Out extends object = object>(m: Marshal): Marshal<In, Out> {
  return m as Marshal<In, Out>;
}

/** HWPT_ALLOC payloads by `data_type` (IOMMU_HWPT_DATA_*). */
const HWPT_DATA = {
  57005: iommu_hwpt_selftest,
  1: iommu_hwpt_vtd_s1,
  2: iommu_hwpt_arm_smmuv3,
  3: iommu_hwpt_amd_guest,
} as const;

/** VIOMMU_ALLOC payloads by `type` (IOMMU_VIOMMU_TYPE_*). */
const VIOMMU_DATA = {
  3735928559: iommu_viommu_selftest,
  2: iommu_viommu_tegra241_cmdqv,
} as const;

/** HWPT_INVALIDATE entries by `data_type`; the selftest type has a HWPT and a vIOMMU form. */
const INVALIDATE_ENTRY = {
  0: iommu_hwpt_vtd_s1_invalidate,
  1: iommu_viommu_arm_smmuv3_invalidate,
  3735928559: iommu_hwpt_invalidate_selftest,
} as const;

type InputOfTable<T> = { [K in keyof T]: StructInput<ValueOf<T[K]>> }[keyof T];
type OutputOfTable<T> = { [K in keyof T]: ValueOf<T[K]> }[keyof T];

/** A vendor payload: its struct as an object, or its bytes. */
export type HwptData = Uint8Array | InputOfTable<typeof HWPT_DATA>;
export type ViommuData = Uint8Array | InputOfTable<typeof VIOMMU_DATA>;
export type InvalidateEntry =
  | Uint8Array
  | InputOfTable<typeof INVALIDATE_ENTRY>
  | StructInput<ValueOf<typeof iommu_viommu_invalidate_selftest>>;
export interface IovaRange {
  readonly start: bigint;
  readonly last: bigint;
}

function lookup(table: object, key: number): AnyLayout | undefined {
  return Object.hasOwn(table, key) ? ((table as Record<number, AnyLayout>)[key] as AnyLayout) : undefined;
}

function invalidateEntryLayout(type: number, entry: Fields): AnyLayout | undefined {
  if (type === 0xdeadbeef && ('vdev_id' in entry || 'cache_id' in entry)) {
    return iommu_viommu_invalidate_selftest as AnyLayout;
  }
  return lookup(INVALIDATE_ENTRY, type);
}

/** Bytes for a payload given as bytes, or as a struct object encoded with `layout`. */
function payloadBytes(value: unknown, layout: AnyLayout | undefined, what: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (!layout) throw new TypeError(`${what}: pass a Uint8Array or a user VA for this data type`);
  return layout.encode(value as never);
}

/** 64 MiB of bitmap (a 2 TiB range of 4 KiB pages): the most a typed call allocates for the caller. */
const MAX_BITMAP_BITS = 1n << 29n;

/** The most IOVA ranges a typed call makes room for by itself. */
const MAX_RANGES = 1 << 16;

/** The largest buffer a typed call places for a payload by itself. */
const MAX_PAYLOAD = 16 << 20;

const isPointerValue = (v: unknown) => typeof v === 'object' && v !== null;

/** In-pointer payload with a length field: place it, default the length to its size. */
function payload(
  ptr: string,
  len: string,
  layoutOf: (f: Fields) => AnyLayout | undefined,
  decodeBack = false,
): Marshal {
  return {
    before(f, scratch, state) {
      const v = f[ptr];
      if (!isPointerValue(v)) return;
      const layout = layoutOf(f);
      const bytes = payloadBytes(v, layout, ptr);
      f[ptr] = scratch.place(bytes);
      if (f[len] === undefined) f[len] = bytes.length;
      (state as { payload?: [bigint, number, AnyLayout | undefined, boolean] }).payload = [
        f[ptr] as bigint,
        bytes.length,
        layout,
        !(v instanceof Uint8Array),
      ];
    },
    after(_f, out, scratch, state) {
      const p = (state as { payload?: [bigint, number, AnyLayout | undefined, boolean] }).payload;
      if (!p || !decodeBack) return;
      const bytes = scratch.read(p[0], p[1]);
      out.data = p[2] && p[3] ? p[2].decode(bytes) : bytes;
    },
  };
}

export const MARSHAL = {
  IOMMU_IOAS_ALLOW_IOVAS: marshal<{ allowed_iovas: readonly IovaRange[] }>({
    before(f, scratch, _state) {
      const ranges = f.allowed_iovas;
      if (!Array.isArray(ranges)) return;
      const buf = new Uint8Array(ranges.length * 16);
      const dv = new DataView(buf.buffer);
      ranges.forEach((r: { start: bigint; last: bigint }, i) => {
        dv.setBigUint64(i * 16, r.start, true);
        dv.setBigUint64(i * 16 + 8, r.last, true);
      });
      f.allowed_iovas = scratch.place(buf);
      if (f.num_iovas === undefined) f.num_iovas = ranges.length;
    },
  }),
  // allowed_iovas out is the ranges the kernel wrote when the call made room for them.
  IOMMU_IOAS_IOVA_RANGES: marshal<object, { allowed_iovas?: IovaRange[] }>({
    before(f, scratch, state) {
      if (f.allowed_iovas !== undefined) return;
      const n = Number(f.num_iovas ?? 0);
      // More room than anyone needs stays NULL (EFAULT once the kernel writes); pass a VA for that.
      if (n > MAX_RANGES) return;
      f.allowed_iovas = scratch.alloc(n * 16);
      (state as { ranges?: [bigint, number] }).ranges = [f.allowed_iovas as bigint, n];
    },
    after(_f, out, scratch, state) {
      const r = (state as { ranges?: [bigint, number] }).ranges;
      if (!r) return;
      const n = Math.min(r[1], Number(out.num_iovas ?? 0));
      const dv = new DataView(scratch.read(r[0], Math.max(r[1] * 16, 1)).buffer);
      out.allowed_iovas = Array.from({ length: n }, (_, i) => ({
        start: dv.getBigUint64(i * 16, true),
        last: dv.getBigUint64(i * 16 + 8, true),
      }));
    },
  }),
  IOMMU_HWPT_ALLOC: marshal<{ data_uptr: HwptData }>(
    payload('data_uptr', 'data_len', (f) => lookup(HWPT_DATA, Number(f.data_type ?? 0))),
  ),
  IOMMU_VIOMMU_ALLOC: marshal<
    { data_uptr: ViommuData },
    { data?: Uint8Array | OutputOfTable<typeof VIOMMU_DATA> }
  >(payload('data_uptr', 'data_len', (f) => lookup(VIOMMU_DATA, Number(f.type ?? 0)), true)),
  IOMMU_GET_HW_INFO: marshal<object, { data?: Uint8Array }>({
    before(f, scratch, state) {
      if (f.data_uptr !== undefined || !f.data_len) return;
      if (Number(f.data_len) > MAX_PAYLOAD) return;
      f.data_uptr = scratch.alloc(Number(f.data_len));
      (state as { info?: [bigint, number] }).info = [f.data_uptr as bigint, Number(f.data_len)];
    },
    after(_f, out, scratch, state) {
      const i = (state as { info?: [bigint, number] }).info;
      if (i) out.data = scratch.read(i[0], i[1]);
    },
  }),
  IOMMU_HWPT_INVALIDATE: marshal<{ data_uptr: readonly InvalidateEntry[] }>({
    before(f, scratch, _state) {
      const entries = f.data_uptr;
      if (!Array.isArray(entries)) return;
      const type = Number(f.data_type ?? 0);
      const encoded = entries.map((e: unknown) =>
        payloadBytes(
          e,
          e instanceof Uint8Array ? undefined : invalidateEntryLayout(type, e as Fields),
          'entry',
        ),
      );
      const entryLen = Number(f.entry_len ?? encoded[0]?.length ?? 0);
      if (entryLen * encoded.length > MAX_PAYLOAD) {
        throw new RangeError(
          `${encoded.length} entries of ${entryLen} bytes: place them yourself and pass a VA`,
        );
      }
      const buf = new Uint8Array(Math.max(entryLen * encoded.length, 1));
      encoded.forEach((b, i) => {
        buf.set(b.subarray(0, entryLen), i * entryLen);
      });
      f.data_uptr = scratch.place(buf);
      if (f.entry_len === undefined) f.entry_len = entryLen;
      if (f.entry_num === undefined) f.entry_num = entries.length;
    },
  }),
  IOMMU_HWPT_GET_DIRTY_BITMAP: marshal<object, { bitmap?: Uint8Array }>({
    before(f, scratch, state) {
      if (f.data !== undefined) return;
      const pageSize = BigInt((f.page_size as bigint | undefined) ?? 0n);
      const length = BigInt((f.length as bigint | undefined) ?? 0n);
      const bits = pageSize > 0n ? (length + pageSize - 1n) / pageSize : 0n;
      // A bitmap too large to place stays NULL: the kernel then fails the copy with EFAULT.
      if (bits > MAX_BITMAP_BITS) return;
      const bytes = Math.ceil(Number(bits) / 64) * 8;
      f.data = scratch.alloc(bytes);
      (state as { bitmap?: [bigint, number] }).bitmap = [f.data as bigint, bytes];
    },
    after(_f, out, scratch, state) {
      const b = (state as { bitmap?: [bigint, number] }).bitmap;
      if (b) out.bitmap = scratch.read(b[0], b[1]);
    },
  }),
} as const;

export type MarshalName = keyof typeof MARSHAL;

/** The marshaller of a typed call, if its struct has pointer fields the library fills. */
export function marshalFor(name: string): Marshal | undefined {
  return Object.hasOwn(MARSHAL, name) ? MARSHAL[name as MarshalName] : undefined;
}
