import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, expectTypeOf, test } from 'vitest';
import {
  defineStruct,
  defineUnion,
  type FieldInfo,
  type StructLayout,
} from '../../../actors/iommufd/struct.ts';
import { IOMMU_TEST_OP_ADD_RESERVED, IOMMU_TEST_OP_MOCK_DOMAIN } from '../../../actors/iommufd/uapi.ts';
import {
  iommu_hw_info,
  iommu_ioas_map,
  iommu_option,
  iommu_test_cmd_raw,
  iommu_test_cmd_union,
  testCmdLayout,
  testCmdMemberForOp,
  testCmdMembers,
  UAPI_STRUCTS,
  vfio_iommu_type1_info_cap_iova_range,
} from '../../../actors/iommufd/uapi-structs.ts';

describe('defineStruct layout rules', () => {
  test('natural alignment and tail padding', () => {
    const s = defineStruct('s', { a: 'u8', b: 'u64', c: 'u16', d: 'u8' });
    expect(s.fields.map((f) => [f.name, f.offset, f.size])).toEqual([
      ['a', 0, 1],
      ['b', 8, 8],
      ['c', 16, 2],
      ['d', 18, 1],
    ]);
    expect(s.sizeof).toBe(24);
    expect(s.align).toBe(8);
    expect(defineStruct('t', { a: 'u32', b: 'u8' }).sizeof).toBe(8);
    expect(defineStruct('t', { a: 'u8', b: 'u8', c: 'u8' }).sizeof).toBe(3);
  });

  test('arrays align to their element and bytes to 1', () => {
    const s = defineStruct('s', { a: 'u8', idr: { array: 'u32', length: 6 }, raw: { bytes: 3 }, q: 'u64' });
    expect(s.offsetof('idr')).toBe(4);
    expect(s.offsetofend('idr')).toBe(28);
    expect(s.offsetof('raw')).toBe(28);
    expect(s.offsetof('q')).toBe(32);
    expect(s.sizeof).toBe(40);
  });

  test('nested structs keep their own alignment', () => {
    expect(vfio_iommu_type1_info_cap_iova_range.offsetof('nr_iovas')).toBe(8);
    const b = vfio_iommu_type1_info_cap_iova_range.encode({
      header: { id: 1, version: 1, next: 0x40 },
      nr_iovas: 2,
    });
    expect([...b]).toEqual([1, 0, 1, 0, 0x40, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
    expect(vfio_iommu_type1_info_cap_iova_range.decode(b).header).toEqual({ id: 1, version: 1, next: 0x40 });
  });

  test('an alias shares the offset of its target', () => {
    expect(iommu_hw_info.offsetof('out_data_type')).toBe(iommu_hw_info.offsetof('in_data_type'));
    const v = iommu_hw_info.decode(iommu_hw_info.encode({ in_data_type: 0xfeedbeef }));
    expect(v.out_data_type).toBe(0xfeedbeef);
    // An absent alias must not clobber its target with 0.
    expect(iommu_hw_info.decode(iommu_hw_info.encode({ out_data_type: 7 })).in_data_type).toBe(7);
  });

  test('bad declarations are rejected', () => {
    expect(() => defineStruct('e', {})).toThrow(RangeError);
    expect(() => defineStruct('e', { a: { aliasOf: 'b' }, b: 'u32' })).toThrow(RangeError);
    expect(() => defineStruct('e', { a: { array: 'u8', length: -1 } })).toThrow(RangeError);
  });
});

describe('encode / decode', () => {
  test('little endian byte order', () => {
    const b = iommu_ioas_map.encode({ size: 0x11223344, user_va: 0x0102030405060708n });
    expect([...b.subarray(0, 4)]).toEqual([0x44, 0x33, 0x22, 0x11]);
    expect([...b.subarray(16, 24)]).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    const o = iommu_option.encode({ op: 0xabcd });
    expect([o[8], o[9]]).toEqual([0xcd, 0xab]);
  });

  test('missing fields and padding are zero', () => {
    const b = defineStruct('p', { a: 'u8', b: 'u64' }).encode({ a: 0xff });
    expect([...b]).toEqual([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(iommu_ioas_map.encode().every((x) => x === 0)).toBe(true);
  });

  test('a short buffer decodes as zero-filled', () => {
    const v = iommu_ioas_map.decode(new Uint8Array([40, 0, 0, 0, 6, 0]));
    expect(v).toEqual({ size: 40, flags: 6, ioas_id: 0, __reserved: 0, user_va: 0n, length: 0n, iova: 0n });
    expect(iommu_ioas_map.decode(new Uint8Array(0)).iova).toBe(0n);
    expect(iommu_ioas_map.decode(new Uint8Array(8), 100).size).toBe(0);
  });

  test('decode at an offset', () => {
    const buf = new Uint8Array(64);
    iommu_ioas_map.encodeInto({ ioas_id: 3, iova: 5n }, buf, 16);
    expect(iommu_ioas_map.decode(buf, 16)).toMatchObject({ ioas_id: 3, iova: 5n });
  });

  test('encodeInto writes only the first `limit` bytes', () => {
    const buf = new Uint8Array(48).fill(0xaa);
    const n = iommu_ioas_map.encodeInto({ size: 40, flags: 1, iova: 0x1234n }, buf, 4, 12);
    expect(n).toBe(12);
    expect(buf[0]).toBe(0xaa);
    expect([...buf.subarray(4, 16)]).toEqual([40, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(buf.subarray(16).every((x) => x === 0xaa)).toBe(true);
    expect(iommu_ioas_map.encodeInto({}, new Uint8Array(40), 0, 1000)).toBe(40);
    expect(() => iommu_ioas_map.encodeInto({}, new Uint8Array(39))).toThrow(RangeError);
  });

  test('C-style signed/unsigned conversion, and range errors', () => {
    const s = defineStruct('s', { u: 'u32', i: 's32', b: 'u8', q: 'u64' });
    const v = s.decode(s.encode({ u: -1, i: 0xffffffff, b: -1, q: -1n }));
    expect(v).toEqual({ u: 0xffffffff, i: -1, b: 0xff, q: 0xffff_ffff_ffff_ffffn });
    expect(() => s.encode({ u: 2 ** 32 })).toThrow(RangeError);
    expect(() => s.encode({ b: 256 })).toThrow(RangeError);
    expect(() => s.encode({ u: 1.5 })).toThrow(RangeError);
    expect(() => s.encode({ q: 1n << 64n })).toThrow(RangeError);
    expect(() => s.encode({ nope: 1 } as never)).toThrow(RangeError);
    expect(() => iommu_hw_info.encode({ __reserved: [1, 2, 3, 4] })).toThrow(RangeError);
  });

  test('decoded types follow the field list', () => {
    const v = iommu_ioas_map.decode(new Uint8Array(40));
    expectTypeOf(v.iova).toEqualTypeOf<bigint>();
    expectTypeOf(v.ioas_id).toEqualTypeOf<number>();
    expectTypeOf(iommu_hw_info.decode(new Uint8Array(0)).__reserved).toEqualTypeOf<number[]>();
    expectTypeOf(iommu_hw_info.decode(new Uint8Array(0)).out_data_type).toEqualTypeOf<number>();
    // @ts-expect-error u64 fields are bigints (a safe-integer number is still accepted at run time)
    iommu_ioas_map.encode({ iova: 5 });
    // @ts-expect-error misspelt fields do not compile, and throw at run time
    expect(() => iommu_ioas_map.encode({ ioas: 1 })).toThrow(RangeError);
    // @ts-expect-error offsetof takes only field names
    expect(() => iommu_ioas_map.offsetof('nope')).toThrow(RangeError);
    expectTypeOf(testCmdLayout.decode(new Uint8Array(0)).add_reserved).toEqualTypeOf<
      { start: bigint; length: bigint } | undefined
    >();
  });
});

describe('unions and iommu_test_cmd', () => {
  test('a union is as large as its largest member, all at offset 0', () => {
    const u = defineUnion('u', {
      a: defineStruct('a', { x: 'u32' }),
      b: defineStruct('b', { x: 'u32', y: 'u64' }),
    });
    expect(u.sizeof).toBe(16);
    expect(u.align).toBe(8);
    expect(u.fields.every((f) => f.offset === 0)).toBe(true);
  });

  test('iommu_test_cmd: union of 48 bytes at 16, last at 64, sizeof 72', () => {
    expect(testCmdMembers.dirty.sizeof).toBe(48);
    expect(Math.max(...Object.values(testCmdMembers).map((m) => m.sizeof))).toBe(48);
    expect(iommu_test_cmd_union.sizeof).toBe(48);
    expect(iommu_test_cmd_raw.offsetof('u')).toBe(16);
    expect(testCmdLayout.offsetof('last')).toBe(64);
    expect(testCmdLayout.offsetofend('last')).toBe(68);
    expect(testCmdLayout.sizeof).toBe(72);
    expect(testCmdLayout.offsetof('mock_domain')).toBe(16);
    expect(testCmdLayout.offsetofend('dirty')).toBe(64);
    expect(testCmdMembers.dirty.offsetof('iova')).toBe(8);
    expect(testCmdMembers.trigger_iopf.offsetof('addr')).toBe(16);
    expect(testCmdMembers.check_dmabuf.offsetof('iova')).toBe(8);
    expect(testCmdMembers.check_refs.sizeof).toBe(24);
  });

  test('decode selects the member named by op', () => {
    const b = testCmdLayout.encode({
      size: 72,
      op: IOMMU_TEST_OP_ADD_RESERVED,
      id: 1,
      add_reserved: { start: 0x4000n, length: 0x64000n },
    });
    expect(b.length).toBe(72);
    expect([...b.subarray(16, 24)]).toEqual([0, 0x40, 0, 0, 0, 0, 0, 0]);
    expect(testCmdLayout.decode(b)).toEqual({
      size: 72,
      op: IOMMU_TEST_OP_ADD_RESERVED,
      id: 1,
      __reserved: 0,
      last: 0,
      add_reserved: { start: 0x4000n, length: 0x64000n },
    });
    const md = testCmdLayout.decode(testCmdLayout.encode({ op: IOMMU_TEST_OP_MOCK_DOMAIN, last: 9 }));
    expect(md.mock_domain).toEqual({ out_stdev_id: 0, out_hwpt_id: 0, out_idev_id: 0 });
    expect(md.add_reserved).toBeUndefined();
    expect(md.last).toBe(9);
    expect(Object.keys(testCmdLayout.decode(testCmdLayout.encode({ op: 999 })))).toEqual([
      'size',
      'op',
      'id',
      '__reserved',
      'last',
    ]);
  });

  test('encodeInto with a short user size stops before the union', () => {
    const buf = new Uint8Array(72).fill(0xee);
    testCmdLayout.encodeInto({ op: IOMMU_TEST_OP_MOCK_DOMAIN, mock_domain: { out_hwpt_id: 4 } }, buf, 0, 16);
    expect(buf.subarray(16).every((x) => x === 0xee)).toBe(true);
  });
});

// ---- property tests over every uAPI layout ----

const scalarArb = (t: string): fc.Arbitrary<number | bigint> => {
  switch (t) {
    case 'u8':
      return fc.integer({ min: 0, max: 0xff });
    case 'u16':
      return fc.integer({ min: 0, max: 0xffff });
    case 'u32':
      return fc.integer({ min: 0, max: 0xffff_ffff });
    case 's32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    default:
      return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  }
};

function fieldArb(f: FieldInfo): fc.Arbitrary<unknown> {
  const t = f.type;
  if (typeof t === 'string') return scalarArb(t);
  if ('array' in t) return fc.array(scalarArb(t.array), { minLength: t.length, maxLength: t.length });
  if ('bytes' in t) return fc.uint8Array({ minLength: t.bytes, maxLength: t.bytes });
  if ('struct' in t) return valueArb(t.struct);
  throw new Error('aliases are resolved by offset');
}

/** A fully populated value; aliases (and union members) after the first at an offset copy that one. */
function valueArb(layout: StructLayout<object>): fc.Arbitrary<Record<string, unknown>> {
  const primary = layout.fields.filter((f, i) => layout.fields.findIndex((g) => g.offset === f.offset) === i);
  const rec = Object.fromEntries(primary.map((f) => [f.name, fieldArb(f)]));
  return fc.record(rec).map((v) => {
    const out: Record<string, unknown> = { ...v };
    for (const f of layout.fields) {
      if (!(f.name in out)) out[f.name] = out[primary.find((p) => p.offset === f.offset)!.name];
    }
    return out;
  });
}

/** 1 for bytes covered by a field, 0 for padding. */
function coverage(layout: StructLayout<object>): Uint8Array {
  const mask = new Uint8Array(layout.sizeof);
  for (const f of layout.fields) mask.fill(1, f.offset, f.offset + f.size);
  return mask;
}

// Unions decode every member from the same bytes, so value round trips only hold for plain structs.
const PLAIN = Object.values(UAPI_STRUCTS).filter((l) => l !== iommu_test_cmd_raw);

describe('round trips', () => {
  for (const layout of PLAIN) {
    fcTest.prop([valueArb(layout)])(`${layout.name}: decode(encode(v)) = v`, (v) => {
      expect(layout.decode(layout.encode(v))).toEqual(v);
    });
  }

  for (const layout of Object.values(UAPI_STRUCTS)) {
    fcTest.prop([fc.uint8Array({ minLength: layout.sizeof, maxLength: layout.sizeof })])(
      `${layout.name}: encode(decode(b)) = b with padding zeroed`,
      (b) => {
        const mask = coverage(layout);
        const expected = b.map((x, i) => (mask[i] ? x : 0));
        expect(layout.encode(layout.decode(b))).toEqual(expected);
      },
    );
  }

  fcTest.prop([fc.uint8Array({ maxLength: 48 })])('a short buffer reads as the buffer plus zeros', (b) => {
    const padded = new Uint8Array(iommu_ioas_map.sizeof);
    padded.set(b.subarray(0, padded.length));
    expect(iommu_ioas_map.decode(b)).toEqual(iommu_ioas_map.decode(padded));
  });

  fcTest.prop([fc.integer({ min: 1, max: 24 }), valueArb(testCmdMembers.dirty)])(
    'iommu_test_cmd: the op-selected member round trips',
    (op, member) => {
      const name = testCmdMemberForOp(op)!;
      const value = testCmdMembers[name].decode(testCmdMembers.dirty.encode(member));
      const cmd = { size: 72, op, id: 3, __reserved: 0, last: 0, [name]: value };
      expect(testCmdLayout.decode(testCmdLayout.encode(cmd))).toEqual(cmd);
    },
  );
});
