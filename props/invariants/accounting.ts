import { expectedPinned } from '../model/accounting.ts';
import { lit } from '../world/code.ts';
import type { Invariant, Violation } from './invariant.ts';

/**
 * Accounting: each process has pinned exactly the distinct pages under live areas of IOASes
 * with a domain (a page shared by IOAS_COPY once); RLIMIT_MEMLOCK is charged once per pinned
 * page to the process's user; after close, zero.
 */
export const accounting: Invariant = {
  name: 'accounting',
  title: 'pinned and locked pages equal the distinct pages under live areas; zero after close',
  check({ world, model }): Violation | undefined {
    const byUser = new Map<object, { want: bigint; name: string; got: bigint }>();
    for (const [i, proc] of world.procs.entries()) {
      const want = expectedPinned(model, i);
      const got = proc.mm.counters.pinnedPages;
      if (got !== want) {
        return violation(
          `p${i} has ${got} pages pinned, the areas hold ${want}`,
          `p${i}.mm.counters.pinnedPages`,
          want,
        );
      }
      if (proc.mm.counters.lockedPages !== 0n) {
        return violation(
          `p${i} has ${proc.mm.counters.lockedPages} pages charged to its mm in user mode`,
          `p${i}.mm.counters.lockedPages`,
          0n,
        );
      }
      const u = byUser.get(proc.user) ?? { want: 0n, name: `p${i}`, got: proc.user.lockedPages };
      u.want += want;
      byUser.set(proc.user, u);
    }
    for (const u of byUser.values()) {
      if (u.got !== u.want) {
        return violation(
          `the user of ${u.name} is charged ${u.got} locked pages for ${u.want} pinned`,
          `${u.name}.user.lockedPages`,
          u.want,
        );
      }
    }
    return undefined;
  },
};

function violation(message: string, expr: string, want: bigint): Violation {
  return { invariant: 'accounting', message, witness: [`check(${expr} === ${want}n, ${lit(message)});`] };
}
