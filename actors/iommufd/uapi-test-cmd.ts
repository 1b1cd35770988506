/**
 * `struct iommu_test_cmd` (iommufd_test.h): a fixed header, an anonymous union selected by `op`, and
 * `last`, the field whose end is the ioctl's min_size. The offsets come from the member list, so the
 * union's size and the position of `last` are computed, not asserted.
 */
import {
  defineStruct,
  defineUnion,
  type StructInput,
  type StructLayout,
  type UnionValue,
  type ValueOf,
} from './struct.ts';
import * as op from './uapi-selftest.ts';

/** The union members, by their kernel names. */
export const testCmdMembers = {
  add_reserved: defineStruct('add_reserved', { start: 'u64', length: 'u64' }),
  mock_domain: defineStruct('mock_domain', { out_stdev_id: 'u32', out_hwpt_id: 'u32', out_idev_id: 'u32' }),
  mock_domain_flags: defineStruct('mock_domain_flags', {
    out_stdev_id: 'u32',
    out_hwpt_id: 'u32',
    out_idev_id: 'u32',
    dev_flags: 'u32',
  }),
  mock_domain_replace: defineStruct('mock_domain_replace', { pt_id: 'u32' }),
  check_map: defineStruct('check_map', { iova: 'u64', length: 'u64', uptr: 'u64' }),
  check_refs: defineStruct('check_refs', { length: 'u64', uptr: 'u64', refs: 'u32' }),
  create_access: defineStruct('create_access', { out_access_fd: 'u32', flags: 'u32' }),
  destroy_access_pages: defineStruct('destroy_access_pages', { access_pages_id: 'u32' }),
  access_pages: defineStruct('access_pages', {
    flags: 'u32',
    out_access_pages_id: 'u32',
    iova: 'u64',
    length: 'u64',
    uptr: 'u64',
  }),
  access_rw: defineStruct('access_rw', { iova: 'u64', length: 'u64', uptr: 'u64', flags: 'u32' }),
  memory_limit: defineStruct('memory_limit', { limit: 'u32' }),
  access_replace_ioas: defineStruct('access_replace_ioas', { ioas_id: 'u32' }),
  dirty: defineStruct('dirty', {
    flags: 'u32',
    iova: 'u64',
    length: 'u64',
    page_size: 'u64',
    uptr: 'u64',
    out_nr_dirty: 'u64',
  }),
  check_iotlb: defineStruct('check_iotlb', { id: 'u32', iotlb: 'u32' }),
  trigger_iopf: defineStruct('trigger_iopf', {
    dev_id: 'u32',
    pasid: 'u32',
    grpid: 'u32',
    perm: 'u32',
    addr: 'u64',
  }),
  check_dev_cache: defineStruct('check_dev_cache', { id: 'u32', cache: 'u32' }),
  trigger_vevent: defineStruct('trigger_vevent', { dev_id: 'u32' }),
  pasid_attach: defineStruct('pasid_attach', { pasid: 'u32', pt_id: 'u32' }),
  pasid_replace: defineStruct('pasid_replace', { pasid: 'u32', pt_id: 'u32' }),
  pasid_detach: defineStruct('pasid_detach', { pasid: 'u32' }),
  pasid_check: defineStruct('pasid_check', { pasid: 'u32', hwpt_id: 'u32' }),
  dmabuf_get: defineStruct('dmabuf_get', { length: 'u32', open_flags: 'u32' }),
  dmabuf_revoke: defineStruct('dmabuf_revoke', { dmabuf_fd: 's32', revoked: 'u32' }),
  check_dmabuf: defineStruct('check_dmabuf', { dmabuf_fd: 's32', iova: 'u64', length: 'u64', offset: 'u64' }),
} as const;

export type TestCmdMemberName = keyof typeof testCmdMembers;
export type TestCmdMembers = UnionValue<typeof testCmdMembers>;

/** Which union member each IOMMU_TEST_OP_* reads and writes. */
export const TEST_CMD_MEMBER_BY_OP = Object.freeze({
  [op.IOMMU_TEST_OP_ADD_RESERVED]: 'add_reserved',
  [op.IOMMU_TEST_OP_MOCK_DOMAIN]: 'mock_domain',
  [op.IOMMU_TEST_OP_MD_CHECK_MAP]: 'check_map',
  [op.IOMMU_TEST_OP_MD_CHECK_REFS]: 'check_refs',
  [op.IOMMU_TEST_OP_CREATE_ACCESS]: 'create_access',
  [op.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES]: 'destroy_access_pages',
  [op.IOMMU_TEST_OP_ACCESS_PAGES]: 'access_pages',
  [op.IOMMU_TEST_OP_ACCESS_RW]: 'access_rw',
  [op.IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT]: 'memory_limit',
  [op.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE]: 'mock_domain_replace',
  [op.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS]: 'access_replace_ioas',
  [op.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS]: 'mock_domain_flags',
  [op.IOMMU_TEST_OP_DIRTY]: 'dirty',
  [op.IOMMU_TEST_OP_MD_CHECK_IOTLB]: 'check_iotlb',
  [op.IOMMU_TEST_OP_TRIGGER_IOPF]: 'trigger_iopf',
  [op.IOMMU_TEST_OP_DEV_CHECK_CACHE]: 'check_dev_cache',
  [op.IOMMU_TEST_OP_TRIGGER_VEVENT]: 'trigger_vevent',
  [op.IOMMU_TEST_OP_PASID_ATTACH]: 'pasid_attach',
  [op.IOMMU_TEST_OP_PASID_REPLACE]: 'pasid_replace',
  [op.IOMMU_TEST_OP_PASID_DETACH]: 'pasid_detach',
  [op.IOMMU_TEST_OP_PASID_CHECK_HWPT]: 'pasid_check',
  [op.IOMMU_TEST_OP_DMABUF_GET]: 'dmabuf_get',
  [op.IOMMU_TEST_OP_DMABUF_REVOKE]: 'dmabuf_revoke',
  [op.IOMMU_TEST_OP_MD_CHECK_DMABUF]: 'check_dmabuf',
} as const satisfies Record<number, TestCmdMemberName>);

/** The IOMMU_TEST_OP_* values, as a type. */
export type TestCmdOp = keyof typeof TEST_CMD_MEMBER_BY_OP;

export function testCmdMemberForOp(opValue: number): TestCmdMemberName | undefined {
  return Object.hasOwn(TEST_CMD_MEMBER_BY_OP, opValue)
    ? TEST_CMD_MEMBER_BY_OP[opValue as TestCmdOp]
    : undefined;
}

export const iommu_test_cmd_union = defineUnion('iommu_test_cmd.union', testCmdMembers);

/** The C layout, with the union as a named field `u` (the kernel's is anonymous). */
export const iommu_test_cmd_raw = defineStruct('iommu_test_cmd', {
  size: 'u32',
  op: 'u32',
  id: 'u32',
  __reserved: 'u32',
  u: { struct: iommu_test_cmd_union },
  last: 'u32',
});

/**
 * The decoded command as userspace sees it: the header, `last`, and the union flattened to the one
 * member that `op` selects (as in `cmd.mock_domain.out_hwpt_id`).
 */
export type TestCmd = { size: number; op: number; id: number; __reserved: number; last: number } & {
  [K in TestCmdMemberName]?: TestCmdMembers[K];
};

type RawTestCmd = ValueOf<typeof iommu_test_cmd_raw>;
const HEADER_FIELDS = ['size', 'op', 'id', '__reserved', 'last'] as const;
const UNION_OFFSET = iommu_test_cmd_raw.offsetof('u');

function isMember(name: string): name is TestCmdMemberName {
  return Object.hasOwn(testCmdMembers, name);
}

function toRaw(value: StructInput<TestCmd>): StructInput<RawTestCmd> {
  const raw: StructInput<RawTestCmd> = {};
  const u: StructInput<TestCmdMembers> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (isMember(key)) Object.assign(u, { [key]: v });
    else Object.assign(raw, { [key]: v }); // unknown keys are rejected by the raw layout
  }
  return { ...raw, u };
}

/**
 * `iommu_test_cmd` with the union flattened: `decode` yields only the member selected by `op` (none for
 * an unknown op, which the kernel rejects anyway); `encode` writes every member present, as C would.
 */
export const testCmdLayout: StructLayout<TestCmd> = Object.freeze({
  name: iommu_test_cmd_raw.name,
  sizeof: iommu_test_cmd_raw.sizeof,
  align: iommu_test_cmd_raw.align,
  fields: Object.freeze(
    [
      ...iommu_test_cmd_raw.fields.filter((f) => f.name !== 'u'),
      ...iommu_test_cmd_union.fields.map((f) => ({ ...f, offset: UNION_OFFSET + f.offset })),
    ].sort((a, b) => a.offset - b.offset),
  ),
  offsetof(field: keyof TestCmd & string): number {
    return isMember(field) ? UNION_OFFSET : iommu_test_cmd_raw.offsetof(field);
  },
  offsetofend(field: keyof TestCmd & string): number {
    return isMember(field)
      ? UNION_OFFSET + testCmdMembers[field].sizeof
      : iommu_test_cmd_raw.offsetofend(field);
  },
  decode(bytes: Uint8Array, offset = 0): TestCmd {
    // Decode the header and only the member `op` selects: decoding all 24 members per call
    // dominated the cost of IOMMU_TEST_CMD.
    const out: TestCmd = { size: 0, op: 0, id: 0, __reserved: 0, last: 0 };
    const dv = new DataView(
      new Uint8Array(bytes.subarray(offset, offset + iommu_test_cmd_raw.sizeof)).buffer,
    );
    const word = (at: number) => (at + 4 <= dv.byteLength ? dv.getUint32(at, true) : 0);
    for (const f of HEADER_FIELDS) out[f] = word(iommu_test_cmd_raw.offsetof(f));
    const member = testCmdMemberForOp(out.op);
    if (member) Object.assign(out, { [member]: testCmdMembers[member].decode(bytes, offset + UNION_OFFSET) });
    return out;
  },
  encode(value: StructInput<TestCmd> = {}): Uint8Array {
    return iommu_test_cmd_raw.encode(toRaw(value));
  },
  encodeInto(value: StructInput<TestCmd>, buf: Uint8Array, offset = 0, limit?: number): number {
    return iommu_test_cmd_raw.encodeInto(toRaw(value), buf, offset, limit);
  },
});
