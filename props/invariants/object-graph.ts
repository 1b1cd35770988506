import { expectedUsers, modelObjects } from '../model/graph.ts';
import { lit } from '../world/code.ts';
import type { Invariant, Violation } from './invariant.ts';

const v = (message: string, witness: string[]): Violation => ({
  invariant: 'object-graph',
  message,
  witness,
});

/**
 * Object graph: each object's `users` equals the references that exist (the table's, one per
 * dependent HWPT, attachment, binding); DESTROY of a referenced object fails EBUSY and changes
 * nothing; closing a ctx always frees every object.
 */
export const objectGraph: Invariant = {
  name: 'object-graph',
  title: 'refcounts equal the references that exist; busy DESTROY is EBUSY; close frees all',
  check({ world, model, step }): Violation | undefined {
    const busy = step.expect.busyDestroy;
    if (busy) {
      const call = step.calls.find((c) => c.label === 'IOMMU_DESTROY');
      // A fail-nth injection may fail the call before it looks at the refcount.
      if (call?.ok || (call && call.errno !== 'EBUSY' && call.injected === undefined)) {
        const got = call.ok ? 'succeeded' : (call.errno ?? 'threw');
        return v(`DESTROY of referenced ${busy.type} ${busy.id} ${got} (want EBUSY)`, [
          `check(${call.varName} instanceof Error && ${call.varName}.errno === 'EBUSY', ${lit(`DESTROY of a referenced ${busy.type} must fail EBUSY`)});`,
        ]);
      }
      const before = call?.before?.get(busy.ctx);
      const after = call?.after?.get(busy.ctx);
      if (before && after && JSON.stringify(before) !== JSON.stringify(after)) {
        const p = world.ctxProc.get(busy.ctx);
        return v(`DESTROY of referenced ${busy.type} ${busy.id} failed EBUSY but changed the ctx`, [
          `check(JSON.stringify(snapshotCtx(fd${p}.ctx, p${p})) === ${lit(JSON.stringify(before))}, 'a busy DESTROY changes nothing');`,
        ]);
      }
    }
    const thrown = step.calls.find((c) => c.exception !== undefined && c.label === 'close');
    if (thrown)
      return v(`close failed: ${(thrown.exception as Error)?.message ?? thrown.exception}`, [
        `check(!(${thrown.varName} instanceof Error), 'close must never fail');`,
      ]);
    for (const key of step.expect.closed ?? []) {
      const fd = world.closed.get(key);
      const left = fd?.ctx.liveObjects() ?? [];
      if (fd && (left.length > 0 || !fd.ctx.closed)) {
        const what =
          left.map((o) => `${o.type}#${o.id}(users=${o.users})`).join(', ') || 'the ctx is not released';
        const p = `fd${world.procs.indexOf(fd.process)}`;
        return v(`close left ${what}`, [
          `check(${p}.ctx.liveObjects().length === 0 && ${p}.ctx.closed, ${lit(`close left ${what}`)});`,
        ]);
      }
    }
    for (const [key, fd] of world.fds) {
      const ctx = model.ctxs.get(key);
      if (!ctx) continue;
      const users = expectedUsers(ctx);
      const want = modelObjects(ctx).map((o) => ({ ...o, users: users.get(o.id) ?? 1 }));
      const got = fd.ctx.liveObjects().map((o) => ({ id: o.id, type: o.type, users: o.users }));
      const show = (l: ReadonlyArray<{ id: number; type: string; users: number }>) =>
        l.map((o) => `${o.type}#${o.id}:${o.users}`).join(' ');
      if (show(want) !== show(got)) {
        const p = `fd${ctx.proc}`;
        return v(
          `ctx of p${ctx.proc}: objects ${show(got) || '(none)'}, the references say ${show(want) || '(none)'}`,
          [`check(objects(${p}) === ${lit(show(want))}, 'object refcounts');`],
        );
      }
    }
    return undefined;
  },
};
