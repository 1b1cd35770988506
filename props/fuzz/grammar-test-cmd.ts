import * as T from '../../actors/iommufd/uapi-selftest.ts';
import { BUFFER_VA } from '../world/tags.ts';
import { type Fields, type Gen, iova, userVa } from './grammar-iommufd.ts';
import { PAYLOAD_VA } from './rig.ts';

/** Ops the grammar drives, most often those that make objects the rest chain on. */
const OPS: ReadonlyArray<readonly [number, number]> = [
  [6, T.IOMMU_TEST_OP_MOCK_DOMAIN],
  [3, T.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS],
  [3, T.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE],
  [2, T.IOMMU_TEST_OP_ADD_RESERVED],
  [2, T.IOMMU_TEST_OP_MD_CHECK_MAP],
  [1, T.IOMMU_TEST_OP_MD_CHECK_REFS],
  [4, T.IOMMU_TEST_OP_CREATE_ACCESS],
  [3, T.IOMMU_TEST_OP_ACCESS_PAGES],
  [2, T.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES],
  [3, T.IOMMU_TEST_OP_ACCESS_RW],
  [2, T.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS],
  [1, T.IOMMU_TEST_OP_DIRTY],
  [1, T.IOMMU_TEST_OP_MD_CHECK_IOTLB],
  [1, T.IOMMU_TEST_OP_DEV_CHECK_CACHE],
  [2, T.IOMMU_TEST_OP_TRIGGER_IOPF],
  [2, T.IOMMU_TEST_OP_TRIGGER_VEVENT],
  [2, T.IOMMU_TEST_OP_PASID_ATTACH],
  [2, T.IOMMU_TEST_OP_PASID_REPLACE],
  [2, T.IOMMU_TEST_OP_PASID_DETACH],
  [1, T.IOMMU_TEST_OP_PASID_CHECK_HWPT],
  [1, T.IOMMU_TEST_OP_DMABUF_GET],
  [1, 0x7f],
];

/** `IOMMU_TEST_CMD` fields: the op, its `id` (an IOAS/HWPT, a mock device, an access fd) and its union member. */
export function testCmdFields(g: Gen, accessFds: readonly number[]): Fields {
  const { dice, res, ctx } = g;
  const op = dice.weighted(OPS);
  const id = (types: readonly string[]) => res.id(ctx, types);
  const access = () => (accessFds.length > 0 && dice.chance(0.9) ? dice.pick(accessFds) : dice.edgeU32());
  const pasid = () => dice.pick([0, 1, 2, 1023, 1024, 1 << 19, dice.edgeU32()]);
  const base: Fields = { op, __reserved: dice.maybe(0, 0.03) };
  switch (op) {
    case T.IOMMU_TEST_OP_MOCK_DOMAIN:
      return { ...base, id: id(['IOAS', 'HWPT_PAGING', 'HWPT_NESTED']), mock_domain: {} };
    case T.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS:
      return {
        ...base,
        id: id(['IOAS', 'HWPT_PAGING']),
        mock_domain_flags: { dev_flags: dice.maybe(dice.int(8)) },
      };
    case T.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE:
      return {
        ...base,
        id: id(['SELFTEST']),
        mock_domain_replace: { pt_id: id(['IOAS', 'HWPT_PAGING', 'HWPT_NESTED']) },
      };
    case T.IOMMU_TEST_OP_ADD_RESERVED:
      return { ...base, id: id(['IOAS']), add_reserved: { start: iova(g), length: dice.length(4) } };
    case T.IOMMU_TEST_OP_MD_CHECK_MAP:
      return {
        ...base,
        id: id(['HWPT_PAGING']),
        check_map: { iova: iova(g), length: dice.length(2), uptr: BUFFER_VA },
      };
    case T.IOMMU_TEST_OP_MD_CHECK_REFS:
      return { ...base, id: 0, check_refs: { length: dice.length(2), uptr: userVa(g), refs: dice.int(3) } };
    case T.IOMMU_TEST_OP_CREATE_ACCESS:
      return { ...base, id: id(['IOAS']), create_access: { flags: dice.pick([0, 1, dice.edgeU32()]) } };
    case T.IOMMU_TEST_OP_ACCESS_PAGES:
      return {
        ...base,
        id: access(),
        access_pages: {
          flags: dice.pick([0, 1, 1 << 16]),
          iova: iova(g),
          length: dice.length(4),
          uptr: BUFFER_VA,
        },
      };
    case T.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES:
      return { ...base, id: access(), destroy_access_pages: { access_pages_id: dice.int(4) } };
    case T.IOMMU_TEST_OP_ACCESS_RW:
      return {
        ...base,
        id: access(),
        access_rw: {
          iova: iova(g),
          length: BigInt(dice.pick([1, 8, 64, 4096, 8192])),
          uptr: PAYLOAD_VA,
          flags: dice.pick([0, 1, 4, 5, 2]),
        },
      };
    case T.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS:
      return { ...base, id: access(), access_replace_ioas: { ioas_id: id(['IOAS']) } };
    case T.IOMMU_TEST_OP_DIRTY:
      return {
        ...base,
        id: id(['HWPT_PAGING']),
        dirty: {
          flags: 0,
          iova: iova(g),
          length: dice.length(4),
          page_size: 4096n,
          uptr: PAYLOAD_VA,
          out_nr_dirty: 0n,
        },
      };
    case T.IOMMU_TEST_OP_MD_CHECK_IOTLB:
      return { ...base, id: id(['HWPT_NESTED']), check_iotlb: { id: dice.int(5), iotlb: dice.edgeU32() } };
    case T.IOMMU_TEST_OP_DEV_CHECK_CACHE:
      return { ...base, id: id(['DEVICE']), check_dev_cache: { id: dice.int(5), cache: dice.edgeU32() } };
    case T.IOMMU_TEST_OP_TRIGGER_IOPF:
      return {
        ...base,
        id: 0,
        trigger_iopf: {
          dev_id: id(['DEVICE']),
          pasid: pasid(),
          grpid: dice.int(4),
          perm: dice.int(16),
          addr: iova(g),
        },
      };
    case T.IOMMU_TEST_OP_TRIGGER_VEVENT:
      return { ...base, id: 0, trigger_vevent: { dev_id: id(['DEVICE']) } };
    case T.IOMMU_TEST_OP_PASID_ATTACH:
      return {
        ...base,
        id: id(['SELFTEST']),
        pasid_attach: { pasid: pasid(), pt_id: id(['IOAS', 'HWPT_PAGING', 'HWPT_NESTED']) },
      };
    case T.IOMMU_TEST_OP_PASID_REPLACE:
      return {
        ...base,
        id: id(['SELFTEST']),
        pasid_replace: { pasid: pasid(), pt_id: id(['IOAS', 'HWPT_PAGING', 'HWPT_NESTED']) },
      };
    case T.IOMMU_TEST_OP_PASID_DETACH:
      return { ...base, id: id(['SELFTEST']), pasid_detach: { pasid: pasid() } };
    case T.IOMMU_TEST_OP_PASID_CHECK_HWPT:
      return {
        ...base,
        id: id(['SELFTEST']),
        pasid_check: { pasid: pasid(), hwpt_id: id(['HWPT_PAGING', 'HWPT_NESTED']) },
      };
    case T.IOMMU_TEST_OP_DMABUF_GET:
      return { ...base, id: 0, dmabuf_get: { length: dice.pick([4096, 8192, 0, 3]), open_flags: 0 } };
    default:
      return { ...base, id: dice.edgeU32() };
  }
}
