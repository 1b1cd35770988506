import { fail } from '../../../actors/iommufd/errno.ts';
import type { TestCmdUcmd } from '../test-cmd.ts';

export function testDirty(_ucmd: TestCmdUcmd): void | number | Promise<void | number> {
  fail('EOPNOTSUPP', 'testDirty is not implemented yet');
}
