/**
 * A small C struct-layout DSL for the iommufd uAPI: natural alignment, tail padding, little endian.
 *
 * Layouts are declared as ordered object literals so the decoded TypeScript type follows from the
 * field list: `defineStruct('x', { size: 'u32', iova: 'u64' }).decode(b).iova` is a `bigint`.
 */

/** `u64` is `__aligned_u64`: 8-byte aligned, decoded as a bigint. */
export type ScalarType = 'u8' | 'u16' | 'u32' | 's32' | 'u64';

/** A fixed C array of scalars, e.g. `__u32 idr[6]`. */
export interface ArraySpec {
  readonly array: ScalarType;
  readonly length: number;
}

/** Opaque bytes, e.g. `__u8 uuid[16]`; decoded as a Uint8Array. */
export interface BytesSpec {
  readonly bytes: number;
}

/** A nested struct (or union) laid out inline. */
export interface NestedSpec {
  readonly struct: StructLayout<object>;
}

/**
 * A member of an anonymous union of same-typed scalars (`union { __u32 in_data_type; __u32 out_data_type; }`):
 * it shares the offset and type of the named earlier field.
 */
export interface AliasSpec {
  readonly aliasOf: string;
}

export type FieldSpec = ScalarType | ArraySpec | BytesSpec | NestedSpec | AliasSpec;

export type FieldSpecs = { readonly [name: string]: FieldSpec };

type ScalarValue<S> = S extends 'u64' ? bigint : number;

/** The JS value of one field, given the whole field list (needed to resolve aliases). */
export type FieldValue<S, F> = S extends ScalarType
  ? ScalarValue<S>
  : S extends { readonly array: infer E }
    ? ScalarValue<E>[]
    : S extends { readonly bytes: number }
      ? Uint8Array
      : S extends { readonly struct: StructLayout<infer U> }
        ? U
        : S extends { readonly aliasOf: infer A extends keyof F }
          ? FieldValue<F[A], F>
          : never;

/** The decoded object type of a field list. */
export type StructValue<F> = { -readonly [K in keyof F]: FieldValue<F[K], F> };

/** What `encode` accepts: any subset of fields (missing ones are 0), nested structs partial too. */
export type StructInput<T> = { [K in keyof T]?: InputOf<T[K]> };
// A naked type parameter, so optional members (`X | undefined`) distribute and stay partial.
type InputOf<V> = V extends Uint8Array | readonly unknown[] ? V : V extends object ? StructInput<V> : V;

/** The decoded type of a layout: `ValueOf<typeof iommu_ioas_map>`. */
export type ValueOf<L> = L extends StructLayout<infer T> ? T : never;

export interface FieldInfo {
  readonly name: string;
  readonly type: FieldSpec;
  readonly offset: number;
  readonly size: number;
  readonly align: number;
}

export interface StructLayout<T extends object> {
  readonly name: string;
  readonly sizeof: number;
  readonly align: number;
  /** In declaration order. Union members and aliases share offsets. */
  readonly fields: readonly FieldInfo[];
  offsetof(field: keyof T & string): number;
  offsetofend(field: keyof T & string): number;
  /** Reads `sizeof` bytes at `offset`; bytes past the end of `bytes` read as 0 (the kernel's zero-fill). */
  decode(bytes: Uint8Array, offset?: number): T;
  /** A fresh `sizeof`-byte buffer; missing fields are 0, padding is 0. */
  encode(value?: StructInput<T>): Uint8Array;
  /**
   * Writes only the first `min(limit, sizeof)` bytes, as the kernel copies back `min(user size, sizeof)`.
   * Returns the number of bytes written.
   */
  encodeInto(value: StructInput<T>, buf: Uint8Array, offset?: number, limit?: number): number;
}

const SCALAR_SIZE: Record<ScalarType, number> = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8 };

export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

function isAlias(spec: FieldSpec): spec is AliasSpec {
  return typeof spec === 'object' && 'aliasOf' in spec;
}

function sizeAlign(spec: Exclude<FieldSpec, AliasSpec>): { size: number; align: number } {
  if (typeof spec === 'string') return { size: SCALAR_SIZE[spec], align: SCALAR_SIZE[spec] };
  if ('array' in spec) {
    if (!Number.isInteger(spec.length) || spec.length < 0)
      throw new RangeError(`bad array length ${spec.length}`);
    return { size: SCALAR_SIZE[spec.array] * spec.length, align: SCALAR_SIZE[spec.array] };
  }
  if ('bytes' in spec) {
    if (!Number.isInteger(spec.bytes) || spec.bytes < 0) throw new RangeError(`bad byte count ${spec.bytes}`);
    return { size: spec.bytes, align: 1 };
  }
  return { size: spec.struct.sizeof, align: spec.struct.align };
}

/** A zeroed copy of `size` bytes at `offset`: short user buffers read as zero-filled. */
function window(bytes: Uint8Array, offset: number, size: number): DataView {
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`bad offset ${offset}`);
  const out = new Uint8Array(size);
  const n = Math.max(0, Math.min(size, bytes.length - offset));
  out.set(bytes.subarray(offset, offset + n));
  return new DataView(out.buffer);
}

function readScalar(dv: DataView, off: number, type: ScalarType): number | bigint {
  switch (type) {
    case 'u8':
      return dv.getUint8(off);
    case 'u16':
      return dv.getUint16(off, true);
    case 'u32':
      return dv.getUint32(off, true);
    case 's32':
      return dv.getInt32(off, true);
    case 'u64':
      return dv.getBigUint64(off, true);
  }
}

/**
 * Accepts both the signed and unsigned range of the width, as a C assignment would (`-1` in a `__u32`
 * is `UINT32_MAX`); anything else is a caller bug, not a value to truncate silently.
 */
function writeScalar(dv: DataView, off: number, type: ScalarType, value: unknown, where: string): void {
  if (type === 'u64') {
    let v: bigint;
    if (typeof value === 'bigint') v = value;
    else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
    else throw new RangeError(`${where}: expected a bigint, got ${String(value)}`);
    if (v < -(1n << 63n) || v >= 1n << 64n) throw new RangeError(`${where}: ${v} does not fit in 64 bits`);
    dv.setBigUint64(off, BigInt.asUintN(64, v), true);
    return;
  }
  const bits = SCALAR_SIZE[type] * 8;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new RangeError(`${where}: expected an integer, got ${String(value)}`);
  }
  if (value < -(2 ** (bits - 1)) || value >= 2 ** bits) {
    throw new RangeError(`${where}: ${value} does not fit in ${bits} bits`);
  }
  if (bits === 8) dv.setUint8(off, value & 0xff);
  else if (bits === 16) dv.setUint16(off, value & 0xffff, true);
  else dv.setUint32(off, value >>> 0, true);
}

function readField(dv: DataView, f: FieldInfo, spec: Exclude<FieldSpec, AliasSpec>): unknown {
  if (typeof spec === 'string') return readScalar(dv, f.offset, spec);
  if ('array' in spec) {
    const step = SCALAR_SIZE[spec.array];
    return Array.from({ length: spec.length }, (_, i) => readScalar(dv, f.offset + i * step, spec.array));
  }
  const bytes = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
  if ('bytes' in spec) return bytes.slice(f.offset, f.offset + spec.bytes);
  return spec.struct.decode(bytes, f.offset);
}

/**
 * Writes the fields present in a value at `base`; padding and absent fields are left alone, so the members
 * of a union can be written one after another as in C.
 */
type Writer = (dv: DataView, base: number, value: object, where: string) => void;
const writers = new WeakMap<object, Writer>();

function writeField(
  dv: DataView,
  base: number,
  f: FieldInfo,
  spec: Exclude<FieldSpec, AliasSpec>,
  v: unknown,
  where: string,
) {
  const off = base + f.offset;
  if (typeof spec === 'string') return writeScalar(dv, off, spec, v, where);
  const bytes = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
  if ('array' in spec) {
    if (!Array.isArray(v) || v.length > spec.length) {
      throw new RangeError(`${where}: expected an array of at most ${spec.length} elements`);
    }
    const step = SCALAR_SIZE[spec.array];
    for (const [i, e] of v.entries()) writeScalar(dv, off + i * step, spec.array, e, `${where}[${i}]`);
    return;
  }
  if ('bytes' in spec) {
    if (!(v instanceof Uint8Array) || v.length > spec.bytes) {
      throw new RangeError(`${where}: expected a Uint8Array of at most ${spec.bytes} bytes`);
    }
    bytes.set(v, off);
    return;
  }
  if (typeof v !== 'object' || v === null) throw new RangeError(`${where}: expected an object`);
  const write = writers.get(spec.struct);
  // A layout not built here (a hand-written wrapper) can only be written whole.
  if (write) write(dv, off, v, where);
  else spec.struct.encodeInto(v, bytes, off);
}

interface Placed {
  readonly info: FieldInfo;
  readonly spec: Exclude<FieldSpec, AliasSpec>;
}

/** Builds the public layout object from placed fields; shared by structs and unions. */
function makeLayout<T extends object>(
  name: string,
  placed: readonly Placed[],
  sizeof: number,
  align: number,
): StructLayout<T> {
  const byName = new Map(placed.map((p) => [p.info.name, p.info]));
  const field = (n: string): FieldInfo => {
    const f = byName.get(n);
    if (!f) throw new RangeError(`${name} has no field ${n}`);
    return f;
  };
  const writeAll: Writer = (dv, base, value, where) => {
    const rec = value as Record<string, unknown>;
    for (const key of Object.keys(rec)) field(key); // a misspelt field is a caller bug
    for (const p of placed) {
      const v = rec[p.info.name];
      if (v !== undefined) writeField(dv, base, p.info, p.spec, v, `${where}.${p.info.name}`);
    }
  };
  const layout: StructLayout<T> = {
    name,
    sizeof,
    align,
    fields: Object.freeze(placed.map((p) => p.info)),
    offsetof: (n) => field(n).offset,
    offsetofend: (n) => field(n).offset + field(n).size,
    decode(bytes, offset = 0) {
      const dv = window(bytes, offset, sizeof);
      const out: Record<string, unknown> = {};
      for (const p of placed) out[p.info.name] = readField(dv, p.info, p.spec);
      return out as T;
    },
    encode(value = {}) {
      const buf = new Uint8Array(sizeof);
      writeAll(new DataView(buf.buffer), 0, value, name);
      return buf;
    },
    encodeInto(value, buf, offset = 0, limit = sizeof) {
      const n = Math.max(0, Math.min(limit, sizeof));
      if (!Number.isInteger(offset) || offset < 0 || offset + n > buf.length) {
        throw new RangeError(`${name}: ${n} bytes at ${offset} do not fit a ${buf.length}-byte buffer`);
      }
      buf.set(layout.encode(value).subarray(0, n), offset);
      return n;
    },
  };
  writers.set(layout, writeAll);
  return Object.freeze(layout);
}

/** Lays out `fields` in order with natural C alignment and tail padding to the largest alignment. */
export function defineStruct<const F extends FieldSpecs>(
  name: string,
  fields: F,
): StructLayout<StructValue<F>> {
  const placed: Placed[] = [];
  let end = 0;
  let align = 1;
  for (const [fname, spec] of Object.entries(fields)) {
    if (isAlias(spec)) {
      const target = placed.find((p) => p.info.name === spec.aliasOf);
      if (!target) throw new RangeError(`${name}.${fname}: alias of unknown earlier field ${spec.aliasOf}`);
      placed.push({ info: Object.freeze({ ...target.info, name: fname }), spec: target.spec });
      continue;
    }
    const sa = sizeAlign(spec);
    const offset = alignUp(end, sa.align);
    placed.push({ info: Object.freeze({ name: fname, type: spec, offset, ...sa }), spec });
    end = offset + sa.size;
    align = Math.max(align, sa.align);
  }
  if (placed.length === 0) throw new RangeError(`${name}: a struct needs at least one field`);
  return makeLayout<StructValue<F>>(name, placed, alignUp(end, align), align);
}

/** The decoded type of a union of struct members: every member decoded from the same bytes. */
export type UnionValue<M> = { -readonly [K in keyof M]: ValueOf<M[K]> };

/**
 * A C union of struct members, all at offset 0; its size is the largest member's, rounded to the largest
 * alignment. Use it as a `{ struct: union }` field; `encode` writes whichever members are present.
 */
export function defineUnion<const M extends { readonly [name: string]: StructLayout<object> }>(
  name: string,
  members: M,
): StructLayout<UnionValue<M>> {
  const placed: Placed[] = Object.entries(members).map(([mname, layout]) => ({
    info: Object.freeze({
      name: mname,
      type: { struct: layout },
      offset: 0,
      size: layout.sizeof,
      align: layout.align,
    }),
    spec: { struct: layout },
  }));
  if (placed.length === 0) throw new RangeError(`${name}: a union needs at least one member`);
  const align = Math.max(...placed.map((p) => p.info.align));
  const size = Math.max(...placed.map((p) => p.info.size));
  return makeLayout<UnionValue<M>>(name, placed, alignUp(size, align), align);
}
