import { charge, type LockedCounter, uncharge } from '../mem/locked-vm.ts';
import type { IommufdCtx } from './ctx.ts';
import { fail } from './errno.ts';
import { hex } from './io-pagetable.ts';
import type { Ioas } from './ioas.ts';
import type { IoctlArg } from './ioctl-table.ts';
import type { IoptPages, PinAccount } from './pages.ts';
import type { Ucmd } from './ucmd.ts';

/**
 * IOMMU_IOAS_CHANGE_PROCESS (`iommufd_ioas_change_process`): after a live update hands the fd to
 * a new process, the pins of every IOAS are charged to that process instead. Only MAP_FILE
 * memory can move (anonymous memory belongs to the old mm), so any other area is EINVAL with
 * nothing changed. The new charge is taken in full before the old one is dropped (ENOMEM on
 * RLIMIT_MEMLOCK, again with nothing changed).
 *
 * Here the calling process is always the ctx's own (`ctx.env.process`), so pages made by this
 * ctx already belong to it and only pages charged elsewhere move.
 */
export function iommufdIoasChangeProcess(ucmd: Ucmd<IoctlArg<'IOMMU_IOAS_CHANGE_PROCESS'>>): void {
  const { cmd, ctx } = ucmd;
  if (cmd.__reserved) fail('EOPNOTSUPP', '__reserved');
  const ioases = ctx.liveObjects().filter((o): o is Ioas => o.type === 'IOAS');
  const pagesList = new Set<IoptPages>();
  for (const ioas of ioases) {
    for (const { value: area } of ioas.iopt.areas.all()) {
      if (area.pages.source.kind !== 'file') {
        fail('EINVAL', `IOAS ${ioas.id}: area at ${hex(area.iova)} was not mapped from a file`);
      }
      pagesList.add(area.pages);
    }
  }
  const moves = new Map<IoptPages, PinAccount>();
  for (const pages of pagesList) {
    const target = currentAccount(ctx, pages.account);
    if (target.counter !== pages.account.counter || target.pinned !== pages.account.pinned) {
      moves.set(pages, target);
    }
  }
  chargeCurrent(moves);
  for (const [pages, target] of moves) {
    const n = BigInt(pages.pinnedPages);
    uncharge(pages.account.counter, n);
    pages.account.pinned.pinnedPages -= n;
    pages.account = target;
  }
}

/** The caller's account in the same RLIMIT_MODE the pages were charged under. */
function currentAccount(ctx: IommufdCtx, old: PinAccount): PinAccount {
  const { mm, user, memlockLimitPages, privileged } = ctx.env.process;
  const faults = ctx.env.host.faults;
  // Under IOPT_PAGES_ACCOUNT_MM the locked counter is the mm's own.
  const mmMode = (old.counter as object) === old.pinned;
  if (!mmMode) return { counter: user, limitPages: memlockLimitPages, pinned: mm.counters, faults };
  const limitPages = privileged ? undefined : memlockLimitPages;
  return { counter: mm.counters, limitPages, pinned: mm.counters, faults };
}

/** `charge_current`: the sum per destination counter, all or nothing. */
function chargeCurrent(moves: ReadonlyMap<IoptPages, PinAccount>): void {
  const totals = new Map<LockedCounter, { account: PinAccount; n: bigint }>();
  for (const [pages, target] of moves) {
    const t = totals.get(target.counter) ?? { account: target, n: 0n };
    t.n += BigInt(pages.pinnedPages);
    totals.set(target.counter, t);
  }
  const done: Array<{ account: PinAccount; n: bigint }> = [];
  try {
    for (const t of totals.values()) {
      if (t.n === 0n) continue;
      charge(t.account.counter, t.n, t.account.limitPages);
      done.push(t);
    }
  } catch (err) {
    for (const t of done) uncharge(t.account.counter, t.n);
    throw err;
  }
  for (const t of done) t.account.pinned.pinnedPages += t.n;
}
