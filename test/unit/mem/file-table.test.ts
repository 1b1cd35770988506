import { describe, expect, it } from 'vitest';
import { FileTable, type OpenFile } from '../../../actors/mem/file-table.ts';
import { charge, MmCounters, UserAccount, uncharge } from '../../../actors/mem/locked-vm.ts';
import { expectErrno } from './helpers.ts';

function file(log: string[], name: string): OpenFile {
  return { kind: 'test', release: () => log.push(name) };
}

describe('FileTable', () => {
  it('numbers fds from 3 and reuses the lowest free', () => {
    const log: string[] = [];
    const t = new FileTable();
    expect([t.install(file(log, 'a')), t.install(file(log, 'b')), t.install(file(log, 'c'))]).toEqual([
      3, 4, 5,
    ]);
    t.close(4);
    t.close(3);
    expect(t.install(file(log, 'd'))).toBe(3);
    expect(t.install(file(log, 'e'))).toBe(4);
    expect(t.install(file(log, 'f'))).toBe(6);
    expect(log).toEqual(['b', 'a']);
  });

  it('gives EBADF for closed fds and releases exactly once', () => {
    const log: string[] = [];
    const t = new FileTable();
    const fd = t.install(file(log, 'a'));
    expectErrno(() => t.get(fd + 1), 'EBADF');
    t.close(fd);
    expectErrno(() => t.close(fd), 'EBADF');
    expectErrno(() => t.get(fd), 'EBADF');
    expect(log).toEqual(['a']);
  });

  it('closeAll releases in ascending fd order', () => {
    const log: string[] = [];
    const t = new FileTable();
    for (const n of ['a', 'b', 'c']) t.install(file(log, n));
    t.close(4);
    t.install(file(log, 'd'));
    t.closeAll();
    expect(log).toEqual(['b', 'a', 'd', 'c']);
    expect(t.size).toBe(0);
  });
});

describe('locked-vm accounting', () => {
  it('charges up to the limit and fails with ENOMEM past it, changing nothing', () => {
    const user = new UserAccount(1000);
    charge(user, 10n, 16n);
    charge(user, 6, 16n);
    expectErrno(() => charge(user, 1n, 16n), 'ENOMEM');
    expect(user.lockedPages).toBe(16n);
    uncharge(user, 16n);
    expect(user.lockedPages).toBe(0n);
    const mm = new MmCounters();
    charge(mm, 1n << 40n, undefined);
    expect(mm.lockedPages).toBe(1n << 40n);
    expect(() => uncharge(mm, (1n << 40n) + 1n)).toThrow(/invariant/);
  });
});
