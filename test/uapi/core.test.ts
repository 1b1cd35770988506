/**
 * Selftest catalogue §6 "Core / generic" (FIXTURE iommufd): 1–11, including cmd_length (3) and
 * cmd_ex_fail (4), which the spec's selection omits but which test the §2.0 rules verbatim.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  _IO,
  IOCTLS,
  IOMMU_DESTROY,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_GET,
  IOMMU_OPTION_OP_SET,
  IOMMU_OPTION_RLIMIT_MODE,
  IOMMU_VFIO_IOAS_CLEAR,
  IOMMU_VFIO_IOAS_GET,
  IOMMU_VFIO_IOAS_SET,
  IOMMUFD_CMD_BASE,
  IOMMUFD_TYPE,
  type IoctlName,
  iommu_destroy,
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
} from '../../index.ts';
import { expectErrno, expectOk } from './helpers/expect.ts';
import { closeAndCheck, openSelftest, PAGE_SIZE, type Selftest } from './helpers/fixture.ts';
import { ioasAlloc, option, place } from './helpers/more.ts';

/** The kernel's TEST_LENGTH list, in its order: (ioctl, the field min_size ends at). */
const TEST_LENGTH: ReadonlyArray<[IoctlName, string]> = [
  ['IOMMU_DESTROY', 'id'],
  ['IOMMU_GET_HW_INFO', '__reserved'],
  ['IOMMU_HWPT_ALLOC', '__reserved'],
  ['IOMMU_HWPT_INVALIDATE', '__reserved'],
  ['IOMMU_IOAS_ALLOC', 'out_ioas_id'],
  ['IOMMU_IOAS_IOVA_RANGES', 'out_iova_alignment'],
  ['IOMMU_IOAS_ALLOW_IOVAS', 'allowed_iovas'],
  ['IOMMU_IOAS_MAP', 'iova'],
  ['IOMMU_IOAS_COPY', 'src_iova'],
  ['IOMMU_IOAS_UNMAP', 'length'],
  ['IOMMU_OPTION', 'val64'],
  ['IOMMU_VFIO_IOAS', '__reserved'],
  ['IOMMU_IOAS_MAP_FILE', 'iova'],
  ['IOMMU_VIOMMU_ALLOC', 'out_viommu_id'],
  ['IOMMU_VDEVICE_ALLOC', 'virt_id'],
  ['IOMMU_IOAS_CHANGE_PROCESS', '__reserved'],
];

function setU32(bytes: Uint8Array, offset: number, v: number): Uint8Array {
  new DataView(bytes.buffer).setUint32(offset, v, true);
  return bytes;
}

describe('iommufd', () => {
  let self: Selftest;
  beforeEach(() => {
    self = openSelftest();
  });
  afterEach(async () => {
    await closeAndCheck(self);
  });

  test('simple_close', () => {
    expect(self.fd.ctx.liveObjects()).toEqual([]);
  });

  test('cmd_fail', async () => {
    const cmd = place(self.proc, iommu_destroy.encode({ size: iommu_destroy.sizeof, id: 0 }));
    await expectErrno('ENOENT', () => self.fd.ioctlRaw(IOMMU_DESTROY, cmd));
    await expectErrno('EFAULT', () => self.fd.ioctlRaw(IOMMU_DESTROY, null));
    await expectErrno('ENOTTY', () => self.fd.ioctlRaw(_IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE - 1), cmd));
  });

  test('cmd_length', async () => {
    for (const [name, last] of TEST_LENGTH) {
      const entry = IOCTLS[name];
      const layout = entry.layout as { sizeof: number; offsetofend(f: string): number };
      const minSize = layout.offsetofend(last);
      expect(minSize, name).toBe(entry.minSize);
      // struct { struct _struct cmd; uint8_t extra; } = { .cmd.size = min_size - 1, .extra = UINT8_MAX }
      const bytes = new Uint8Array(layout.sizeof + 1);
      bytes[layout.sizeof] = 0xff;
      const va = place(self.proc, setU32(bytes, 0, minSize - 1));
      const call = () => self.fd.ioctlRaw(entry.cmd, va);
      await expectErrno('EINVAL', call);
      self.proc.write(va, setU32(new Uint8Array(4), 0, layout.sizeof + 1));
      await expectErrno('E2BIG', call);
      self.proc.write(va, setU32(new Uint8Array(4), 0, layout.sizeof));
      const first = await call().then(
        () => undefined,
        (err: { errno: string }) => err.errno,
      );
      self.proc.write(va, setU32(new Uint8Array(4), 0, layout.sizeof + 1));
      self.proc.write(va + BigInt(layout.sizeof), new Uint8Array(1));
      if (first === undefined) await expectOk(call);
      else await expectErrno(first as never, call);
    }
  });

  test('cmd_ex_fail', async () => {
    // struct { struct iommu_destroy cmd; __u64 future; } = { .cmd = { .size = sizeof(cmd), .id = 0 } }
    const bytes = new Uint8Array(16);
    setU32(bytes, 0, 16);
    const va = place(self.proc, bytes);
    const call = () => self.fd.ioctlRaw(IOMMU_DESTROY, va);
    await expectErrno('ENOENT', call);
    self.proc.write(va + 8n, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
    await expectErrno('E2BIG', call);
    self.proc.write(va, setU32(new Uint8Array(4), 0, 8));
    await expectErrno('ENOENT', call);
    self.proc.write(va, setU32(new Uint8Array(4), 0, 7));
    await expectErrno('EINVAL', call);
  });

  test('global_options', async () => {
    const { fd } = self;
    const rlimit = { option_id: IOMMU_OPTION_RLIMIT_MODE };
    expect(await option(fd, { ...rlimit, op: IOMMU_OPTION_OP_GET, val64: 1n })).toBe(0n);
    await expectOk(option(fd, { ...rlimit, op: IOMMU_OPTION_OP_SET, val64: 1n }));
    await expectErrno('EINVAL', option(fd, { ...rlimit, op: IOMMU_OPTION_OP_SET, val64: 2n }));
    expect(await option(fd, { ...rlimit, op: IOMMU_OPTION_OP_GET, val64: 2n })).toBe(1n);
    await expectOk(option(fd, { ...rlimit, op: IOMMU_OPTION_OP_SET, val64: 0n }));
    const huge = { option_id: IOMMU_OPTION_HUGE_PAGES, val64: 0n };
    await expectErrno('ENOENT', option(fd, { ...huge, op: IOMMU_OPTION_OP_GET }));
    await expectErrno('ENOENT', option(fd, { ...huge, op: IOMMU_OPTION_OP_SET }));
  });

  test('vfio_ioas', async () => {
    const { fd } = self;
    await expectErrno('ENODEV', fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_GET }));
    await expectErrno('ENOENT', fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_SET }));
    const ioasId = await ioasAlloc(fd);
    await expectOk(fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_SET, ioas_id: ioasId }));
    const got = await expectOk(fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_GET, ioas_id: ioasId }));
    expect(got.ioas_id).toBe(ioasId);
    await expectOk(fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_CLEAR, ioas_id: ioasId }));
    await expectErrno('ENODEV', fd.ioctl('IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_GET, ioas_id: ioasId }));
  });

  test('simple_ioctls', async () => {
    expect(await expectOk(() => self.fd.ioctlRaw(VFIO_GET_API_VERSION, null))).toBe(VFIO_API_VERSION);
    expect(await expectOk(() => self.fd.ioctlRaw(VFIO_CHECK_EXTENSION, BigInt(VFIO_TYPE1v2_IOMMU)))).toBe(1);
  });

  test('unmap_cmd', async () => {
    const layout = vfio_iommu_type1_dma_unmap;
    const va = place(self.proc, layout.encode({ argsz: 1, iova: 0n, size: PAGE_SIZE }));
    const call = () => self.fd.ioctlRaw(VFIO_IOMMU_UNMAP_DMA, va);
    await expectErrno('EINVAL', call);
    self.proc.write(va, layout.encode({ argsz: layout.sizeof, flags: 2 ** 31, size: PAGE_SIZE }));
    await expectErrno('EINVAL', call);
    self.proc.write(va, layout.encode({ argsz: layout.sizeof, flags: 0, size: PAGE_SIZE }));
    await expectErrno('ENODEV', call);
  });

  test('map_cmd', async () => {
    const layout = vfio_iommu_type1_dma_map;
    const base = { iova: 0n, size: PAGE_SIZE, vaddr: self.buffer };
    const va = place(self.proc, layout.encode({ ...base, argsz: 1 }));
    const call = () => self.fd.ioctlRaw(VFIO_IOMMU_MAP_DMA, va);
    await expectErrno('EINVAL', call);
    self.proc.write(va, layout.encode({ ...base, argsz: layout.sizeof, flags: 2 ** 31 }));
    await expectErrno('EINVAL', call);
    const rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    self.proc.write(va, layout.encode({ ...base, argsz: layout.sizeof, flags: rw }));
    await expectErrno('ENODEV', call);
  });

  test('info_cmd', async () => {
    const layout = vfio_iommu_type1_info;
    const va = place(self.proc, layout.encode({ argsz: 1 }));
    const call = () => self.fd.ioctlRaw(VFIO_IOMMU_GET_INFO, va);
    await expectErrno('EINVAL', call);
    self.proc.write(va, layout.encode({ argsz: layout.sizeof }));
    await expectErrno('ENODEV', call);
  });

  test('set_iommu_cmd', async () => {
    await expectErrno('ENODEV', () => self.fd.ioctlRaw(VFIO_SET_IOMMU, BigInt(VFIO_TYPE1v2_IOMMU)));
    await expectErrno('ENODEV', () => self.fd.ioctlRaw(VFIO_SET_IOMMU, BigInt(VFIO_TYPE1_IOMMU)));
  });
});
