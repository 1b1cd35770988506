import { fail } from '../../../actors/iommufd/errno.ts';
import type { TestCmdUcmd } from '../test-cmd.ts';

export function testDevCheckCache(_ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  fail('EOPNOTSUPP', 'testDevCheckCache is not implemented yet');
}

export function testMdCheckIotlb(_ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  fail('EOPNOTSUPP', 'testMdCheckIotlb is not implemented yet');
}

export function testTriggerIopf(_ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  fail('EOPNOTSUPP', 'testTriggerIopf is not implemented yet');
}

export function testTriggerVevent(_ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  fail('EOPNOTSUPP', 'testTriggerVevent is not implemented yet');
}
