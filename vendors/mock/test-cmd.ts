import { fail } from '../../actors/iommufd/errno.ts';
import type { IoctlArg } from '../../actors/iommufd/ioctl-table.ts';
import * as op from '../../actors/iommufd/uapi-selftest.ts';
import type { Ucmd } from '../../actors/iommufd/ucmd.ts';
import {
  testAccessPages,
  testAccessReplaceIoas,
  testAccessRw,
  testCreateAccess,
  testDestroyAccessPages,
  testMdCheckRefs,
  testSetTempMemoryLimit,
} from './test-ops/access.ts';
import { testDirty } from './test-ops/dirty.ts';
import { testAddReserved, testMdCheckMap } from './test-ops/iopt.ts';
import {
  testMockDomain,
  testMockDomainReplace,
  testPasidAttach,
  testPasidCheckHwpt,
} from './test-ops/mock-domain.ts';
import {
  testDevCheckCache,
  testMdCheckIotlb,
  testTriggerIopf,
  testTriggerVevent,
} from './test-ops/nested.ts';

export type TestCmdUcmd = Ucmd<IoctlArg<'IOMMU_TEST_CMD'>>;

/**
 * IOMMU_TEST_CMD (`iommufd_test`): the selftest's back door into the mock driver and the core.
 * An unknown op is EOPNOTSUPP.
 */
export function iommufdTestCmd(ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  switch (ucmd.cmd.op) {
    case op.IOMMU_TEST_OP_ADD_RESERVED:
      return testAddReserved(ucmd);
    case op.IOMMU_TEST_OP_MOCK_DOMAIN:
      return testMockDomain(ucmd, false);
    case op.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS:
      return testMockDomain(ucmd, true);
    case op.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE:
      return testMockDomainReplace(ucmd);
    case op.IOMMU_TEST_OP_MD_CHECK_MAP:
      return testMdCheckMap(ucmd);
    case op.IOMMU_TEST_OP_MD_CHECK_REFS:
      return testMdCheckRefs(ucmd);
    case op.IOMMU_TEST_OP_CREATE_ACCESS:
      return testCreateAccess(ucmd);
    case op.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES:
      return testDestroyAccessPages(ucmd);
    case op.IOMMU_TEST_OP_ACCESS_PAGES:
      return testAccessPages(ucmd);
    case op.IOMMU_TEST_OP_ACCESS_RW:
      return testAccessRw(ucmd);
    case op.IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT:
      return testSetTempMemoryLimit(ucmd);
    case op.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS:
      return testAccessReplaceIoas(ucmd);
    case op.IOMMU_TEST_OP_DIRTY:
      return testDirty(ucmd);
    case op.IOMMU_TEST_OP_MD_CHECK_IOTLB:
      return testMdCheckIotlb(ucmd);
    case op.IOMMU_TEST_OP_TRIGGER_IOPF:
      return testTriggerIopf(ucmd);
    case op.IOMMU_TEST_OP_DEV_CHECK_CACHE:
      return testDevCheckCache(ucmd);
    case op.IOMMU_TEST_OP_TRIGGER_VEVENT:
      return testTriggerVevent(ucmd);
    case op.IOMMU_TEST_OP_PASID_ATTACH:
      return testPasidAttach(ucmd, 'attach');
    case op.IOMMU_TEST_OP_PASID_REPLACE:
      return testPasidAttach(ucmd, 'replace');
    case op.IOMMU_TEST_OP_PASID_DETACH:
      return testPasidAttach(ucmd, 'detach');
    case op.IOMMU_TEST_OP_PASID_CHECK_HWPT:
      return testPasidCheckHwpt(ucmd);
    default:
      fail('EOPNOTSUPP', `IOMMU_TEST_CMD op ${ucmd.cmd.op}`);
  }
}
