import type { StructLayout } from '../../actors/iommufd/struct.ts';
import type { Dice } from './values.ts';

/**
 * A struct laid out byte for byte, then broken the ways syzkaller breaks them: bits flipped, a
 * field set to an edge value (0, 1, -1, 2^32-1, 2^63, unaligned), the size word made smaller or
 * bigger than the struct (with a zero or a dirty tail), bad flags. Sometimes left well formed.
 */
export function mutateStruct(
  dice: Dice,
  layout: StructLayout<object>,
  fields: Record<string, unknown>,
  sizeField: 'size' | 'argsz',
  minSize: number,
): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = layout.encode({ [sizeField]: layout.sizeof, ...fields } as never);
  } catch {
    bytes = new Uint8Array(layout.sizeof);
  }
  const rounds = 1 + dice.int(3);
  for (let r = 0; r < rounds; r++) {
    const what = dice.int(10);
    if (what < 3) flipBits(dice, bytes);
    else if (what < 6) bytes = setField(dice, layout, bytes);
    else if (what < 9) bytes = resize(dice, bytes, layout.sizeof, minSize);
  }
  return bytes;
}

function flipBits(dice: Dice, bytes: Uint8Array): void {
  for (let n = 1 + dice.int(3); n > 0; n--) {
    const at = dice.int(bytes.length);
    bytes[at] = bytes[at]! ^ (1 << dice.int(8));
  }
}

function setField(dice: Dice, layout: StructLayout<object>, bytes: Uint8Array): Uint8Array {
  const scalars = layout.fields.filter(
    (f) => typeof f.type === 'string' && f.offset + f.size <= bytes.length,
  );
  if (scalars.length === 0) return bytes;
  const f = dice.pick(scalars);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (f.size === 8)
    dv.setBigUint64(
      f.offset,
      dice.chance(0.2) ? (dv.getBigUint64(f.offset, true) + 1n) & ((1n << 64n) - 1n) : dice.edgeU64(),
      true,
    );
  else if (f.size === 4) dv.setUint32(f.offset, dice.edgeU32(), true);
  else if (f.size === 2) dv.setUint16(f.offset, dice.pick([0, 1, 0xffff, 0x8000]), true);
  else dv.setUint8(f.offset, dice.pick([0, 1, 0xff]));
  return bytes;
}

/** The size word at offset 0 set to an edge, and the buffer shortened or extended to match (sometimes not). */
function resize(dice: Dice, bytes: Uint8Array, sizeof: number, minSize: number): Uint8Array {
  const size = dice.pick([
    0,
    1,
    4,
    Math.max(0, minSize - 1),
    minSize,
    Math.max(0, sizeof - 4),
    sizeof + 8,
    sizeof + 64,
    0xffff_ffff,
  ]);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 4) dv.setUint32(0, size, true);
  if (size > bytes.length && size <= 4096 && dice.chance(0.8)) {
    const out = new Uint8Array(size);
    out.set(bytes);
    if (dice.chance(0.3)) out[size - 1] = 1;
    return out;
  }
  return bytes;
}
