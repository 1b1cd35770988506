import { IommufdError } from '../iommufd/errno.ts';
import type { StructLayout } from '../iommufd/struct.ts';
import type { AddressSpace } from '../mem/address-space.ts';
import { marshalFor } from './marshal.ts';
import { type Outputs, outputs } from './outputs.ts';
import { Scratch } from './scratch.ts';

/**
 * A typed ioctl: encodes `fields` (the kernel struct's field names; `size`/`argsz` defaults to
 * sizeof) into the caller's memory, makes the raw call, and decodes what the kernel wrote. Pointer
 * fields may carry JS values (see marshal.ts). On failure the error's `out` holds the output
 * fields the kernel wrote back before failing (entry_num, num_iovas ...).
 */
export async function typedIoctl(
  mm: AddressSpace,
  name: string,
  layout: StructLayout<object>,
  fields: Record<string, unknown>,
  invoke: (va: bigint) => Promise<number>,
): Promise<Outputs> {
  const scratch = new Scratch(mm);
  try {
    const f: Record<string, unknown> = { ...fields };
    const marshal = marshalFor(name);
    const state: Record<string, unknown> = {};
    try {
      marshal?.before?.(f, scratch, state);
    } catch (err) {
      if (IommufdError.is(err)) throw err;
      throw new IommufdError('EINVAL', `bad argument to ${name}: ${(err as Error).message}`, { ioctl: name });
    }
    // The first field: `size` in iommufd structs, `argsz` in VFIO ones (whose `size` is a length).
    const sizeField = layout.fields[0]?.name === 'argsz' ? 'argsz' : 'size';
    const struct: Record<string, unknown> = { [sizeField]: layout.sizeof };
    for (const [k, v] of Object.entries(f)) if (v !== undefined) struct[k] = v;
    let bytes: Uint8Array;
    try {
      bytes = layout.encode(struct as never);
    } catch (err) {
      throw new IommufdError('EINVAL', `bad argument to ${name}: ${(err as Error).message}`, { ioctl: name });
    }
    // As the kernel reads it: a negative size is its u32 bit pattern.
    const declared = Number(struct[sizeField]) >>> 0;
    const va = scratch.placeZeroExtended(bytes, declared);
    let ret: number;
    try {
      ret = await invoke(va);
    } catch (err) {
      if (IommufdError.is(err)) {
        err.ioctl ??= name;
        const written = outputs(name, layout.decode(scratch.read(va, layout.sizeof)));
        const out: Record<string, number | bigint> = {};
        for (const [k, v] of Object.entries(written))
          if (typeof v === 'number' || typeof v === 'bigint') out[k] = v;
        if (Object.keys(out).length > 0) err.out = out;
      }
      throw err;
    }
    const out = outputs(name, layout.decode(scratch.read(va, layout.sizeof)));
    marshal?.after?.(f, out, scratch, state);
    if (ret !== 0) out.ret = ret;
    return out;
  } finally {
    scratch.release();
  }
}

/** The typed ioctls one kind of file takes: name → ioctl number and argument struct. */
export type TypedIoctlTable = Readonly<Record<string, { readonly cmd: number; readonly layout: object }>>;

/**
 * A typed call by name on a file whose table lists it (ENOTTY when it does not, as for an ioctl
 * number the file does not know), made through the file's raw `ioctl(cmd, va)`.
 */
export function typedFileIoctl(
  mm: AddressSpace,
  table: TypedIoctlTable,
  name: string,
  fields: Record<string, unknown>,
  raw: (cmd: number, va: bigint) => Promise<number>,
): Promise<Outputs> {
  const entry = Object.hasOwn(table, name) ? table[name] : undefined;
  if (!entry) return Promise.reject(new IommufdError('ENOTTY', `unknown ioctl ${name}`));
  return typedIoctl(mm, name, entry.layout as StructLayout<object>, fields, (va) => raw(entry.cmd, va));
}
