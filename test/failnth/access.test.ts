/** fail-nth over in-kernel accesses (the selftest's CREATE_ACCESS / ACCESS_PAGES / ACCESS_RW). */
import { expect, test } from 'vitest';
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_TEST_OP_ACCESS_PAGES,
  IOMMU_TEST_OP_ACCESS_RW,
  IOMMU_TEST_OP_CREATE_ACCESS,
  IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
  MOCK_ACCESS_RW_SLOW_PATH,
  MOCK_ACCESS_RW_WRITE,
  MOCK_APERTURE_START,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
} from '../../index.ts';
import { BUF_LEN, bind, failNthScenario, PAGE } from './harness.ts';

const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
const IOVA = BigInt(MOCK_APERTURE_START);

test('fail-nth accesses on mock: create, pin pages, rw, unpin', async () => {
  const tally = await failNthScenario('mock', async (w, step) => {
    const { out_ioas_id } = await step('IOAS_ALLOC', () => w.fd.ioctl('IOMMU_IOAS_ALLOC', {}));
    const ioas = out_ioas_id as number;
    await bind(w, step, 0);
    await step('attach', () => w.vfios[0]!.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: ioas }));
    await step('IOAS_MAP', () =>
      w.fd.ioctl('IOMMU_IOAS_MAP', {
        flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA,
        ioas_id: ioas,
        user_va: w.buf,
        length: BUF_LEN,
        iova: IOVA,
      }),
    );
    w.probes.push({ dev: w.devs[0]!, iova: IOVA }, { dev: w.devs[0]!, iova: IOVA + 4n * PAGE });
    w.iovas.push(IOVA, IOVA + 4n * PAGE);
    const created = await step('CREATE_ACCESS', () =>
      w.fd.ioctl('IOMMU_TEST_CMD', {
        op: IOMMU_TEST_OP_CREATE_ACCESS,
        id: ioas,
        create_access: { flags: MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES },
      }),
    );
    const accessFd = (created.create_access as { out_access_fd: number }).out_access_fd;
    const uptr = w.proc.mmap(BUF_LEN);
    w.proc.write(uptr, new Uint8Array(Number(BUF_LEN)));
    const pages = await step('ACCESS_PAGES', () =>
      w.fd.ioctl('IOMMU_TEST_CMD', {
        op: IOMMU_TEST_OP_ACCESS_PAGES,
        id: accessFd,
        access_pages: { flags: 0, iova: IOVA + PAGE, length: 4n * PAGE, uptr: w.buf + PAGE },
      }),
    );
    const pagesId = (pages.access_pages as { out_access_pages_id: number }).out_access_pages_id;
    for (const flags of [0, MOCK_ACCESS_RW_WRITE, MOCK_ACCESS_RW_SLOW_PATH]) {
      await step(`ACCESS_RW ${flags}`, () =>
        w.fd.ioctl('IOMMU_TEST_CMD', {
          op: IOMMU_TEST_OP_ACCESS_RW,
          id: accessFd,
          access_rw: { iova: IOVA + 100n, length: 2n * PAGE, uptr, flags },
        }),
      );
    }
    await step('DESTROY_ACCESS_PAGES', () =>
      w.fd.ioctl('IOMMU_TEST_CMD', {
        op: IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
        id: accessFd,
        destroy_access_pages: { access_pages_id: pagesId },
      }),
    );
    w.proc.close(accessFd);
  });
  expect(tally.alloc + tally.pin + tally.usercopy).toBeGreaterThan(5);
});
