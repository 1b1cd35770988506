import { fail } from '../../../actors/iommufd/errno.ts';
import type { TestCmdUcmd } from '../test-cmd.ts';

export function testAccessPages(_ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  fail('EOPNOTSUPP', 'testAccessPages is not implemented yet');
}

export function testAccessReplaceIoas(_ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  fail('EOPNOTSUPP', 'testAccessReplaceIoas is not implemented yet');
}

export function testAccessRw(_ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  fail('EOPNOTSUPP', 'testAccessRw is not implemented yet');
}

export function testCreateAccess(_ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  fail('EOPNOTSUPP', 'testCreateAccess is not implemented yet');
}

export function testDestroyAccessPages(_ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  fail('EOPNOTSUPP', 'testDestroyAccessPages is not implemented yet');
}

export function testMdCheckRefs(_ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  fail('EOPNOTSUPP', 'testMdCheckRefs is not implemented yet');
}

export function testSetTempMemoryLimit(_ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  fail('EOPNOTSUPP', 'testSetTempMemoryLimit is not implemented yet');
}
