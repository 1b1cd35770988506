import { expect, test } from 'vitest';
import { createFarm, IOMMU_TEST_OP_MOCK_DOMAIN } from '../../../index.ts';
test('x', async () => {
  const farm = createFarm({ seed: 1 }); const host = farm.addHost({ name: 'h0', selftest: true });
  const proc = host.spawnProcess({ name: 't' }); const fd = proc.openIommufd();
  const { out_ioas_id } = await fd.ioctl('IOMMU_IOAS_ALLOC', {});
  const md = await fd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_MOCK_DOMAIN, id: out_ioas_id });
  console.log(md);
  const h = await fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: (md.mock_domain as any).out_idev_id, pt_id: out_ioas_id, flags: 1 });
  console.log(h);
  const buf = proc.mmap(4096*16);
  const m = await fd.ioctl('IOMMU_IOAS_MAP', { ioas_id: out_ioas_id, user_va: buf, length: 65536n, flags: 6 });
  console.log(m);
  expect(1).toBe(1);
});
