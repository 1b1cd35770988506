import { describe, expect, test } from 'vitest';
import { IOCTL_TABLE, IOCTLS, ioctlByCmd, ioctlByName } from '../../../actors/iommufd/ioctl-table.ts';
import * as uapi from '../../../actors/iommufd/uapi.ts';
import {
  iommu_hw_info,
  TEST_CMD_MEMBER_BY_OP,
  type TestCmdOp,
  testCmdMembers,
  UAPI_STRUCTS,
} from '../../../actors/iommufd/uapi-structs.ts';

/**
 * sizeof and every field offset, worked out by hand from the kernel headers (spec §2.0, §4, §5, §5a,
 * §2.21). Every layout must appear here with every field, so a new field cannot go unchecked.
 */
const LAYOUTS: Record<string, [sizeof: number, offsets: Record<string, number>]> = {
  iommu_destroy: [8, { size: 0, id: 4 }],
  iommu_ioas_alloc: [12, { size: 0, flags: 4, out_ioas_id: 8 }],
  iommu_iova_range: [16, { start: 0, last: 8 }],
  iommu_ioas_iova_ranges: [
    32,
    { size: 0, ioas_id: 4, num_iovas: 8, __reserved: 12, allowed_iovas: 16, out_iova_alignment: 24 },
  ],
  iommu_ioas_allow_iovas: [24, { size: 0, ioas_id: 4, num_iovas: 8, __reserved: 12, allowed_iovas: 16 }],
  iommu_ioas_map: [40, { size: 0, flags: 4, ioas_id: 8, __reserved: 12, user_va: 16, length: 24, iova: 32 }],
  iommu_ioas_map_file: [40, { size: 0, flags: 4, ioas_id: 8, fd: 12, start: 16, length: 24, iova: 32 }],
  iommu_ioas_copy: [
    40,
    { size: 0, flags: 4, dst_ioas_id: 8, src_ioas_id: 12, length: 16, dst_iova: 24, src_iova: 32 },
  ],
  iommu_ioas_unmap: [24, { size: 0, ioas_id: 4, iova: 8, length: 16 }],
  iommu_option: [24, { size: 0, option_id: 4, op: 8, __reserved: 10, object_id: 12, val64: 16 }],
  iommu_vfio_ioas: [12, { size: 0, ioas_id: 4, op: 8, __reserved: 10 }],
  iommu_hwpt_alloc: [
    48,
    {
      size: 0,
      flags: 4,
      dev_id: 8,
      pt_id: 12,
      out_hwpt_id: 16,
      __reserved: 20,
      data_type: 24,
      data_len: 28,
      data_uptr: 32,
      fault_id: 40,
      __reserved2: 44,
    },
  ],
  iommu_hw_info: [
    40,
    {
      size: 0,
      flags: 4,
      dev_id: 8,
      data_len: 12,
      data_uptr: 16,
      in_data_type: 24,
      out_data_type: 24,
      out_max_pasid_log2: 28,
      __reserved: 29,
      out_capabilities: 32,
    },
  ],
  iommu_hwpt_set_dirty_tracking: [16, { size: 0, flags: 4, hwpt_id: 8, __reserved: 12 }],
  iommu_hwpt_get_dirty_bitmap: [
    48,
    { size: 0, hwpt_id: 4, flags: 8, __reserved: 12, iova: 16, length: 24, page_size: 32, data: 40 },
  ],
  iommu_hwpt_invalidate: [
    32,
    { size: 0, hwpt_id: 4, data_uptr: 8, data_type: 16, entry_len: 20, entry_num: 24, __reserved: 28 },
  ],
  iommu_fault_alloc: [16, { size: 0, flags: 4, out_fault_id: 8, out_fault_fd: 12 }],
  iommu_viommu_alloc: [
    40,
    {
      size: 0,
      flags: 4,
      type: 8,
      dev_id: 12,
      hwpt_id: 16,
      out_viommu_id: 20,
      data_len: 24,
      __reserved: 28,
      data_uptr: 32,
    },
  ],
  iommu_vdevice_alloc: [24, { size: 0, viommu_id: 4, dev_id: 8, out_vdevice_id: 12, virt_id: 16 }],
  iommu_ioas_change_process: [8, { size: 0, __reserved: 4 }],
  iommu_veventq_alloc: [
    32,
    {
      size: 0,
      flags: 4,
      viommu_id: 8,
      type: 12,
      veventq_depth: 16,
      out_veventq_id: 20,
      out_veventq_fd: 24,
      __reserved: 28,
    },
  ],
  iommu_hw_queue_alloc: [
    40,
    {
      size: 0,
      flags: 4,
      viommu_id: 8,
      type: 12,
      index: 16,
      out_hw_queue_id: 20,
      nesting_parent_iova: 24,
      length: 32,
    },
  ],
  iommu_hwpt_pgfault: [
    40,
    { flags: 0, dev_id: 4, pasid: 8, grpid: 12, perm: 16, __reserved: 20, addr: 24, length: 32, cookie: 36 },
  ],
  iommu_hwpt_page_response: [8, { cookie: 0, code: 4 }],
  iommufd_vevent_header: [8, { flags: 0, sequence: 4 }],
  // vendor payloads (§4)
  iommu_hwpt_vtd_s1: [24, { flags: 0, pgtbl_addr: 8, addr_width: 16, __reserved: 20 }],
  iommu_hwpt_vtd_s1_invalidate: [24, { addr: 0, npages: 8, flags: 16, __reserved: 20 }],
  iommu_hw_info_vtd: [24, { flags: 0, __reserved: 4, cap_reg: 8, ecap_reg: 16 }],
  iommu_hwpt_arm_smmuv3: [16, { ste: 0 }],
  iommu_viommu_arm_smmuv3_invalidate: [16, { cmd: 0 }],
  iommu_hw_info_arm_smmuv3: [40, { flags: 0, __reserved: 4, idr: 8, iidr: 32, aidr: 36 }],
  iommu_vevent_arm_smmuv3: [32, { evt: 0 }],
  iommu_viommu_tegra241_cmdqv: [16, { out_vintf_mmap_offset: 0, out_vintf_mmap_length: 8 }],
  iommu_hw_info_tegra241_cmdqv: [8, { flags: 0, version: 4, log2vcmdqs: 5, log2vsids: 6, __reserved: 7 }],
  iommu_vevent_tegra241_cmdqv: [16, { lvcmdq_err_map: 0 }],
  iommu_hw_info_amd: [16, { efr: 0, efr2: 8 }],
  iommu_hwpt_amd_guest: [32, { dte: 0 }],
  iommu_hw_info_riscv_iommu: [16, { capability: 0, fctl: 8, __reserved: 12 }],
  // selftest payloads (§5)
  iommu_test_hw_info: [8, { flags: 0, test_reg: 4 }],
  iommu_hwpt_selftest: [8, { iotlb: 0, pagetable_type: 4 }],
  iommu_hwpt_invalidate_selftest: [8, { flags: 0, iotlb_id: 4 }],
  iommu_viommu_selftest: [24, { in_data: 0, out_data: 4, out_mmap_offset: 8, out_mmap_length: 16 }],
  iommu_viommu_invalidate_selftest: [12, { flags: 0, vdev_id: 4, cache_id: 8 }],
  iommu_viommu_event_selftest: [4, { virt_id: 0 }],
  iommu_test_cmd: [72, { size: 0, op: 4, id: 8, __reserved: 12, u: 16, last: 64 }],
  // VFIO (§2.21)
  vfio_device_bind_iommufd: [24, { argsz: 0, flags: 4, iommufd: 8, out_devid: 12, token_uuid_ptr: 16 }],
  vfio_device_attach_iommufd_pt: [16, { argsz: 0, flags: 4, pt_id: 8, pasid: 12 }],
  vfio_device_detach_iommufd_pt: [12, { argsz: 0, flags: 4, pasid: 8 }],
  vfio_iommu_type1_dma_map: [32, { argsz: 0, flags: 4, vaddr: 8, iova: 16, size: 24 }],
  vfio_iommu_type1_dma_unmap: [24, { argsz: 0, flags: 4, iova: 8, size: 16 }],
  vfio_iommu_type1_info: [24, { argsz: 0, flags: 4, iova_pgsizes: 8, cap_offset: 16, pad: 20 }],
  vfio_info_cap_header: [8, { id: 0, version: 2, next: 4 }],
  vfio_iova_range: [16, { start: 0, end: 8 }],
  vfio_iommu_type1_info_cap_iova_range: [16, { header: 0, nr_iovas: 8, reserved: 12 }],
  vfio_iommu_type1_info_dma_avail: [12, { header: 0, avail: 8 }],
};

describe('struct layouts match the kernel', () => {
  test('every layout is covered by the table and vice versa', () => {
    expect(Object.keys(UAPI_STRUCTS).sort()).toEqual(Object.keys(LAYOUTS).sort());
  });

  test.each(Object.entries(LAYOUTS))('%s', (name, [sizeof, offsets]) => {
    const layout = UAPI_STRUCTS[name]!;
    expect(layout.name).toBe(name);
    expect(layout.sizeof).toBe(sizeof);
    expect(Object.fromEntries(layout.fields.map((f) => [f.name, f.offset]))).toEqual(offsets);
  });

  test('iommu_hw_info: u8 out_max_pasid_log2 and u8 __reserved[3] before the u64', () => {
    const l = iommu_hw_info;
    expect(l.offsetofend('out_max_pasid_log2')).toBe(29);
    expect(l.offsetofend('__reserved')).toBe(32);
  });

  test('vEVENT selftest record is header + virt_id = 12 bytes', () => {
    expect(
      UAPI_STRUCTS.iommufd_vevent_header!.sizeof + UAPI_STRUCTS.iommu_viommu_event_selftest!.sizeof,
    ).toBe(12);
  });
});

/** [name, nr, sizeof, min_size] from the dispatch table in spec §2.0. */
const IOCTL_EXPECT: [string, number, number, number][] = [
  ['IOMMU_DESTROY', 0x80, 8, 8],
  ['IOMMU_IOAS_ALLOC', 0x81, 12, 12],
  ['IOMMU_IOAS_ALLOW_IOVAS', 0x82, 24, 24],
  ['IOMMU_IOAS_COPY', 0x83, 40, 40],
  ['IOMMU_IOAS_IOVA_RANGES', 0x84, 32, 32],
  ['IOMMU_IOAS_MAP', 0x85, 40, 40],
  ['IOMMU_IOAS_UNMAP', 0x86, 24, 24],
  ['IOMMU_OPTION', 0x87, 24, 24],
  ['IOMMU_VFIO_IOAS', 0x88, 12, 12],
  ['IOMMU_HWPT_ALLOC', 0x89, 48, 24],
  ['IOMMU_GET_HW_INFO', 0x8a, 40, 32],
  ['IOMMU_HWPT_SET_DIRTY_TRACKING', 0x8b, 16, 16],
  ['IOMMU_HWPT_GET_DIRTY_BITMAP', 0x8c, 48, 48],
  ['IOMMU_HWPT_INVALIDATE', 0x8d, 32, 32],
  ['IOMMU_FAULT_QUEUE_ALLOC', 0x8e, 16, 16],
  ['IOMMU_IOAS_MAP_FILE', 0x8f, 40, 40],
  ['IOMMU_VIOMMU_ALLOC', 0x90, 40, 24],
  ['IOMMU_VDEVICE_ALLOC', 0x91, 24, 24],
  ['IOMMU_IOAS_CHANGE_PROCESS', 0x92, 8, 8],
  ['IOMMU_VEVENTQ_ALLOC', 0x93, 32, 28],
  ['IOMMU_HW_QUEUE_ALLOC', 0x94, 40, 40],
  ['IOMMU_TEST_CMD', 0xa0, 72, 68],
];

describe('ioctl table', () => {
  test('covers every ioctl, in nr order', () => {
    expect(IOCTL_TABLE.map((e) => e.name)).toEqual(IOCTL_EXPECT.map((e) => e[0]));
  });

  test.each(IOCTL_EXPECT)('%s: nr %i, sizeof %i, min_size %i', (name, nr, sizeof, minSize) => {
    const e = ioctlByName(name)!;
    expect(e.nr).toBe(nr);
    expect(e.cmd).toBe(0x3b00 | nr);
    expect(e.cmd).toBe((uapi as unknown as Record<string, number>)[name]);
    expect(e.layout.sizeof).toBe(sizeof);
    expect(e.minSize).toBe(minSize);
    expect(ioctlByCmd(e.cmd)).toBe(e);
  });

  test('lookups miss for unused and VFIO numbers', () => {
    expect(ioctlByCmd(0x3b95)).toBeUndefined();
    expect(ioctlByCmd(uapi._IO(0x3b, 0x7f))).toBeUndefined();
    expect(ioctlByCmd(uapi.VFIO_GET_API_VERSION)).toBeUndefined();
    expect(ioctlByName('IOMMU_NOPE')).toBeUndefined();
    expect(ioctlByName('toString')).toBeUndefined();
  });

  test('typed entries keep their struct types', () => {
    const v = IOCTLS.IOMMU_IOAS_MAP.layout.decode(new Uint8Array(40));
    const iova: bigint = v.iova;
    expect(iova).toBe(0n);
    expect(IOCTLS.IOMMU_HWPT_ALLOC.minField).toBe('__reserved');
  });
});

describe('constants', () => {
  test('fixed points from spec/api.md', () => {
    expect(uapi.IOMMU_IOAS_MAP_FIXED_IOVA).toBe(1);
    expect(uapi.IOMMU_HWPT_ALLOC_NEST_PARENT).toBe(1);
    expect(uapi.IOMMU_HWPT_DATA_ARM_SMMUV3).toBe(2);
    expect(uapi.IOMMU_DESTROY).toBe(0x3b80);
    expect(uapi.MOCK_APERTURE_START).toBe(0x1000000);
    expect(uapi.MOCK_PAGE_SIZE).toBe(2048);
  });

  test('ioctl encoding', () => {
    expect(uapi.IOMMUFD_TYPE).toBe(';'.charCodeAt(0));
    expect(uapi._IO(uapi.IOMMUFD_TYPE, uapi.IOMMUFD_CMD_BASE)).toBe(uapi.IOMMU_DESTROY);
    expect(uapi._IO(uapi.IOMMUFD_TYPE, uapi.IOMMUFD_CMD_HW_QUEUE_ALLOC)).toBe(uapi.IOMMU_HW_QUEUE_ALLOC);
    expect(uapi.IOMMU_HW_QUEUE_ALLOC).toBe(0x3b94);
    expect(uapi.IOMMU_TEST_CMD).toBe(uapi._IO(uapi.IOMMUFD_TYPE, uapi.IOMMUFD_CMD_BASE + 32));
    expect(uapi._IOC_NR(uapi.IOMMU_IOAS_MAP)).toBe(0x85);
    expect(uapi._IOC_TYPE(uapi.IOMMU_IOAS_MAP)).toBe(0x3b);
    expect(() => uapi._IO(0x100, 0)).toThrow(RangeError);
  });

  test('VFIO', () => {
    expect(uapi.VFIO_TYPE).toBe(';'.charCodeAt(0));
    expect(uapi.VFIO_GET_API_VERSION).toBe(0x3b64);
    expect(uapi.VFIO_CHECK_EXTENSION).toBe(0x3b65);
    expect(uapi.VFIO_SET_IOMMU).toBe(0x3b66);
    expect(uapi.VFIO_IOMMU_GET_INFO).toBe(0x3b70);
    expect(uapi.VFIO_IOMMU_MAP_DMA).toBe(0x3b71);
    expect(uapi.VFIO_IOMMU_UNMAP_DMA).toBe(0x3b72);
    expect(uapi.VFIO_DEVICE_BIND_IOMMUFD).toBe(0x3b76);
    expect(uapi.VFIO_DEVICE_ATTACH_IOMMUFD_PT).toBe(0x3b77);
    expect(uapi.VFIO_DEVICE_DETACH_IOMMUFD_PT).toBe(0x3b78);
    expect(uapi.VFIO_TYPE1v2_IOMMU).toBe(3);
    expect(uapi.VFIO_UPDATE_VADDR).toBe(10);
    expect(uapi.VFIO_DMA_UNMAP_FLAG_ALL).toBe(2);
    expect(uapi.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL).toBe(3);
    // Everything VFIO sends to /dev/iommu must fall below the iommufd range, into the compat handler.
    expect(uapi._IOC_NR(uapi.VFIO_DEVICE_DETACH_IOMMUFD_PT)).toBeLessThan(uapi.IOMMUFD_CMD_BASE);
  });

  test('selftest values', () => {
    expect(uapi.IOMMU_TEST_OP_ADD_RESERVED).toBe(1);
    expect(uapi.IOMMU_TEST_OP_DIRTY).toBe(13);
    expect(uapi.IOMMU_TEST_OP_MD_CHECK_DMABUF).toBe(24);
    expect(uapi.MOCK_APERTURE_LAST).toBe(0x7fffffff);
    expect(uapi.MOCK_HUGE_PAGE_SIZE).toBe(1 << 20);
    expect(uapi.IOMMU_HW_INFO_TYPE_SELFTEST).toBe(0xfeedbeef);
    expect(uapi.IOMMU_VEVENTQ_TYPE_SELFTEST).toBe(0xbeefbeef);
    expect(uapi.IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX).toBe(1 << 19);
    expect(uapi.VEVENTQ_MAX_DEPTH).toBe(524288);
  });

  test('every IOMMU_TEST_OP_* maps to a union member, and every member is used', () => {
    const ops = Object.entries(uapi).filter(([k]) => k.startsWith('IOMMU_TEST_OP_'));
    expect(ops.map(([, v]) => v).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 24 }, (_, i) => i + 1),
    );
    const used = new Set(ops.map(([, v]) => TEST_CMD_MEMBER_BY_OP[v as TestCmdOp]));
    expect([...used].sort()).toEqual(Object.keys(testCmdMembers).sort());
  });

  test('object types follow the kernel enum', () => {
    expect(uapi.IOMMUFD_OBJ.ANY).toBe(uapi.IOMMUFD_OBJ.NONE);
    expect(uapi.IOMMUFD_OBJ_DEVICE).toBe(1);
    expect(uapi.IOMMUFD_OBJ_HW_QUEUE).toBe(10);
    expect(uapi.IOMMUFD_OBJ_SELFTEST).toBe(11);
    expect(uapi.IOMMUFD_OBJ_MAX).toBe(12);
  });

  test('constants are plain safe-integer numbers', () => {
    for (const [name, v] of Object.entries(uapi)) {
      if (typeof v === 'function' || typeof v === 'object') continue;
      expect(Number.isSafeInteger(v), name).toBe(true);
      expect(v as number, name).toBeGreaterThanOrEqual(0);
    }
  });
});
