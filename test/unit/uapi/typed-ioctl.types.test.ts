/**
 * Type-level tests of the typed calls: checked by `tsc -p . --noEmit` (every `@ts-expect-error`
 * must be an error) and run by vitest, where the calls are never made.
 */
import { describe, expectTypeOf, test } from 'vitest';
import type { IoctlInput, IoctlOutput } from '../../../actors/uapi/ioctl-types.ts';
import {
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_TEST_OP_ACCESS_RW,
  IOMMU_TEST_OP_MOCK_DOMAIN,
  type Iommufd,
  type VfioDevice,
} from '../../../index.ts';

// Never called: only their types are checked.
declare const iommufd: Iommufd;
declare const vdev: VfioDevice;
const never = false as boolean;

describe('typed iommufd ioctls', () => {
  test('fields take their C types: __u64 bigint, narrower number', () => {
    if (never) {
      // @ts-expect-error ioas_id is a __u32: a number
      void iommufd.ioctl('IOMMU_IOAS_MAP', { ioas_id: 'one' });
      // @ts-expect-error length is a __u64: a bigint, not a number
      void iommufd.ioctl('IOMMU_IOAS_MAP', { ioas_id: 1, length: 4096 });
      // @ts-expect-error no such field in struct iommu_ioas_map
      void iommufd.ioctl('IOMMU_IOAS_MAP', { ioas_id: 1, user_va: 0n, lenght: 4096n });
      // @ts-expect-error not an iommufd ioctl
      void iommufd.ioctl('IOMMU_IOAS_MAPP', {});
      void iommufd.ioctl('IOMMU_IOAS_MAP', { flags: 3, ioas_id: 1, user_va: 0x1000n, length: 4096n });
    }
    expectTypeOf<IoctlInput<'IOMMU_IOAS_MAP'>['iova']>().toEqualTypeOf<bigint | undefined>();
    expectTypeOf<IoctlInput<'IOMMU_IOAS_MAP'>['ioas_id']>().toEqualTypeOf<number | undefined>();
  });

  test('results: out_* and in-out fields with their C types, nothing else', () => {
    expectTypeOf<IoctlOutput<'IOMMU_IOAS_MAP'>['iova']>().toEqualTypeOf<bigint>();
    expectTypeOf<IoctlOutput<'IOMMU_IOAS_ALLOC'>['out_ioas_id']>().toEqualTypeOf<number>();
    expectTypeOf<IoctlOutput<'IOMMU_IOAS_UNMAP'>>().toEqualTypeOf<{ length: bigint; ret?: number }>();
    expectTypeOf<IoctlOutput<'IOMMU_IOAS_MAP'>>().not.toHaveProperty('user_va');
    type MapResult = Awaited<ReturnType<typeof iommufd.ioctl<'IOMMU_IOAS_MAP'>>>;
    expectTypeOf<MapResult['iova']>().toEqualTypeOf<bigint>();
  });

  test('pointer fields take a user VA or the JS value the marshaller places', () => {
    if (never) {
      void iommufd.ioctl('IOMMU_IOAS_ALLOW_IOVAS', {
        ioas_id: 1,
        allowed_iovas: [{ start: 0n, last: 0xfffn }],
      });
      void iommufd.ioctl('IOMMU_IOAS_ALLOW_IOVAS', { ioas_id: 1, allowed_iovas: 0x1000n, num_iovas: 1 });
      // @ts-expect-error range bounds are __u64
      void iommufd.ioctl('IOMMU_IOAS_ALLOW_IOVAS', { ioas_id: 1, allowed_iovas: [{ start: 0, last: 1 }] });
      void iommufd.ioctl('IOMMU_HWPT_ALLOC', {
        dev_id: 1,
        pt_id: 2,
        data_type: IOMMU_HWPT_DATA_SELFTEST,
        data_uptr: { iotlb: 0xbadbeef },
      });
      void iommufd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: 1, pt_id: 2, data_uptr: new Uint8Array(8) });
      // @ts-expect-error a payload is bytes, a vendor struct or a VA
      void iommufd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: 1, pt_id: 2, data_uptr: 'abc' });
      void iommufd.ioctl('IOMMU_HWPT_INVALIDATE', {
        hwpt_id: 1,
        data_type: 0,
        data_uptr: [{ addr: 0n, npages: 1n }],
      });
    }
    expectTypeOf<IoctlOutput<'IOMMU_IOAS_IOVA_RANGES'>['allowed_iovas']>().toEqualTypeOf<
      { readonly start: bigint; readonly last: bigint }[] | undefined
    >();
    expectTypeOf<IoctlOutput<'IOMMU_HWPT_GET_DIRTY_BITMAP'>['bitmap']>().toEqualTypeOf<
      Uint8Array | undefined
    >();
  });

  test('IOMMU_TEST_CMD: each op takes only its union member', () => {
    if (never) {
      void iommufd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_MOCK_DOMAIN, id: 1 });
      void iommufd.ioctl('IOMMU_TEST_CMD', {
        op: IOMMU_TEST_OP_ACCESS_RW,
        id: 3,
        access_rw: { iova: 0n, length: 8n, uptr: 0n },
      });
      // @ts-expect-error access_rw belongs to IOMMU_TEST_OP_ACCESS_RW, not MOCK_DOMAIN
      void iommufd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_MOCK_DOMAIN, access_rw: { iova: 0n } });
      // @ts-expect-error access_rw.length is a __u64
      void iommufd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_ACCESS_RW, access_rw: { length: 8 } });
      // @ts-expect-error there is no op 99
      void iommufd.ioctl('IOMMU_TEST_CMD', { op: 99 });
    }
    expectTypeOf<IoctlOutput<'IOMMU_TEST_CMD'>['mock_domain']>().toEqualTypeOf<
      { out_stdev_id: number; out_hwpt_id: number; out_idev_id: number } | undefined
    >();
  });
});

describe('typed VFIO ioctls', () => {
  test('the device cdev calls', () => {
    if (never) {
      void vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: 3 });
      // @ts-expect-error iommufd is an fd number
      void vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: 3n });
      // @ts-expect-error not a field of vfio_device_attach_iommufd_pt
      void vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: 1, ioas_id: 1 });
      // @ts-expect-error a container call is made on the iommufd, not on the device
      void vdev.ioctl('VFIO_IOMMU_MAP_DMA', {});
    }
    expectTypeOf<IoctlOutput<'VFIO_DEVICE_BIND_IOMMUFD'>['out_devid']>().toEqualTypeOf<number>();
    expectTypeOf<IoctlOutput<'VFIO_DEVICE_ATTACH_IOMMUFD_PT'>['pt_id']>().toEqualTypeOf<number>();
  });

  test('type1 compat on the iommufd', () => {
    if (never) {
      void iommufd.ioctl('VFIO_IOMMU_MAP_DMA', { flags: 3, vaddr: 0x1000n, iova: 0n, size: 4096n });
      // @ts-expect-error size is a __u64
      void iommufd.ioctl('VFIO_IOMMU_UNMAP_DMA', { iova: 0n, size: 4096 });
    }
    expectTypeOf<IoctlOutput<'VFIO_IOMMU_UNMAP_DMA'>['size']>().toEqualTypeOf<bigint>();
    expectTypeOf<IoctlOutput<'VFIO_IOMMU_GET_INFO'>['iova_pgsizes']>().toEqualTypeOf<bigint>();
  });
});
