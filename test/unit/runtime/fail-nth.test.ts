import { describe, expect, test } from 'vitest';
import { IommufdError } from '../../../actors/iommufd/errno.ts';
import { FailNth, NEVER_FAILS } from '../../../actors/runtime/fail-nth.ts';

/** Reaches the points of a fake operation in order; returns how far it got. */
function run(f: FailNth, points: Array<Parameters<FailNth['point']>>): number {
  let done = 0;
  for (const p of points) {
    f.point(...p);
    done++;
  }
  return done;
}

const OP: Array<Parameters<FailNth['point']>> = [
  ['usercopy', 'copy_struct_from_user'],
  ['alloc', 'xa_alloc'],
  ['pin', 'pin_user_pages'],
  ['driver', 'attach_dev', 'EINVAL'],
  ['table', 'vtd.pgtable'],
];

describe('FailNth', () => {
  test('disarmed, no point fails', () => {
    expect(run(new FailNth(), OP)).toBe(OP.length);
  });

  test('arm(n) fails the n-th point once, with its errno, and reports what it saw', () => {
    const f = new FailNth();
    const errnos: string[] = [];
    for (let n = 1; ; n++) {
      f.arm(n);
      let err: unknown;
      try {
        run(f, OP);
      } catch (e) {
        err = e;
      }
      const report = f.disarm();
      if (!report.injected) {
        expect(err).toBeUndefined();
        expect(report.reached).toHaveLength(OP.length);
        expect(n).toBe(OP.length + 1);
        break;
      }
      expect(IommufdError.is(err) && err.errno).toBe(report.injected.errno);
      expect(report.injected).toMatchObject({ n, name: OP[n - 1]![1] });
      expect(report.reached).toHaveLength(n);
      errnos.push(report.injected.errno);
    }
    expect(errnos).toEqual(['EFAULT', 'ENOMEM', 'ENOMEM', 'EINVAL', 'ENOMEM']);
  });

  test('kinds and skipCopyOut narrow what counts', () => {
    const f = new FailNth();
    f.arm(2, { kinds: ['alloc', 'table'] });
    expect(() => run(f, OP)).toThrow(/table:vtd.pgtable/);
    f.arm(1, { skipCopyOut: true });
    f.point('usercopy', 'ucmd_respond');
    expect(() => f.point('usercopy', 'copy_struct_from_user')).toThrow(/EFAULT/);
    expect(f.armed).toBe(false);
  });

  test('rejects a bad n, and the farm-less instance cannot be armed', () => {
    expect(() => new FailNth().arm(0)).toThrow(RangeError);
    expect(() => NEVER_FAILS.arm(1)).toThrow(/no farm/);
  });
});
