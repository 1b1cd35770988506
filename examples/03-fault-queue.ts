/**
 * I/O page faults through a FAULT object, as the kernel selftest drives them: a mock device on a
 * nested HWPT that takes faults, IOMMU_TEST_OP_TRIGGER_IOPF raising page requests, and the
 * process reading `struct iommu_hwpt_pgfault` records from the fault fd (`proc.file(fd)`) and
 * answering with `struct iommu_hwpt_page_response`.
 *
 *   npm run example examples/03-fault-queue.ts
 */
import {
  createFarm,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_PGFAULT_PERM_READ,
  IOMMU_PGFAULT_PERM_WRITE,
  IOMMU_TEST_OP_MOCK_DOMAIN,
  IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
  IOMMU_TEST_OP_TRIGGER_IOPF,
  IOMMUFD_PAGE_RESP_SUCCESS,
  iommu_hwpt_page_response,
  iommu_hwpt_pgfault,
} from 'iommu-farm';

const POLLIN = 0x1;

const farm = createFarm({ seed: 3 });
const host = farm.addHost({ name: 'h0', selftest: true });
const proc = host.spawnProcess({ name: 'selftest' });
const iommufd = proc.openIommufd();
const { out_ioas_id } = await iommufd.ioctl('IOMMU_IOAS_ALLOC', {});

// A mock device on the IOAS (the selftest's mock_domain), then a fault queue and a nested HWPT
// that reports its faults there.
const md = await iommufd.ioctl('IOMMU_TEST_CMD', { op: IOMMU_TEST_OP_MOCK_DOMAIN, id: out_ioas_id });
const { out_stdev_id, out_idev_id } = md.mock_domain as { out_stdev_id: number; out_idev_id: number };
const { out_fault_id, out_fault_fd } = await iommufd.ioctl('IOMMU_FAULT_QUEUE_ALLOC', {});
const parent = await iommufd.ioctl('IOMMU_HWPT_ALLOC', {
  dev_id: out_idev_id,
  pt_id: out_ioas_id,
  flags: IOMMU_HWPT_ALLOC_NEST_PARENT,
});
const iopf = await iommufd.ioctl('IOMMU_HWPT_ALLOC', {
  dev_id: out_idev_id,
  pt_id: parent.out_hwpt_id,
  flags: IOMMU_HWPT_FAULT_ID_VALID,
  fault_id: out_fault_id,
  data_type: IOMMU_HWPT_DATA_SELFTEST,
  data_uptr: { iotlb: 0 },
});
await iommufd.ioctl('IOMMU_TEST_CMD', {
  op: IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
  id: out_stdev_id,
  mock_domain_replace: { pt_id: iopf.out_hwpt_id },
});

const faults = proc.file(out_fault_fd as number);
console.log(`fault fd ${out_fault_fd}: poll ${faults.poll() & POLLIN ? 'readable' : 'empty'}`);

// Two page requests in two groups, as a PRI-capable device would send them.
for (const grpid of [1, 2]) {
  await iommufd.ioctl('IOMMU_TEST_CMD', {
    op: IOMMU_TEST_OP_TRIGGER_IOPF,
    trigger_iopf: {
      dev_id: out_idev_id,
      pasid: 7,
      grpid,
      perm: IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE,
      addr: 0x1000n * BigInt(grpid),
    },
  });
}
console.log(`after two page requests: poll ${faults.poll() & POLLIN ? 'readable' : 'empty'}`);

const bytes = faults.read(2 * iommu_hwpt_pgfault.sizeof);
for (let off = 0; off < bytes.length; off += iommu_hwpt_pgfault.sizeof) {
  const f = iommu_hwpt_pgfault.decode(bytes.subarray(off, off + iommu_hwpt_pgfault.sizeof));
  console.log(
    `fault: dev_id ${f.dev_id} pasid ${f.pasid} grpid ${f.grpid} addr 0x${f.addr.toString(16)} cookie ${f.cookie}`,
  );
  const response = iommu_hwpt_page_response.encode({ cookie: f.cookie, code: IOMMUFD_PAGE_RESP_SUCCESS });
  console.log(`  answered: wrote ${faults.write(response)} bytes`);
}
console.log(`queue drained: poll ${faults.poll() & POLLIN ? 'readable' : 'empty'}`);
