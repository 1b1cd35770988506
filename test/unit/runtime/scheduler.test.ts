import { describe, expect, test } from 'vitest';
import { SimClock } from '../../../actors/runtime/clock.ts';
import { fifoPolicy } from '../../../actors/runtime/fabric.ts';
import { Rng } from '../../../actors/runtime/rng.ts';
import { Scheduler } from '../../../actors/runtime/scheduler.ts';
import { Tracer } from '../../../actors/runtime/trace.ts';

function makeScheduler(opts: { auto?: boolean; seed?: number } = {}) {
  const clock = new SimClock();
  return new Scheduler(clock, new Rng(opts.seed ?? 1), new Tracer(), { auto: opts.auto ?? true });
}

describe('SimClock', () => {
  test('refuses to go back in time', () => {
    const c = new SimClock();
    c.advanceTo(10);
    expect(() => c.advanceTo(5)).toThrow(/back in time/);
    expect(c.now).toBe(10);
  });
});

describe('Scheduler', () => {
  test('awaited sleeps settle by themselves, in virtual-time order', async () => {
    const s = makeScheduler();
    const order: string[] = [];
    await Promise.all([
      s.sleep(300).then(() => order.push(`b@${s.now}`)),
      s.sleep(100).then(() => order.push(`a@${s.now}`)),
      s.sleep(300).then(() => order.push(`c@${s.now}`)),
    ]);
    expect(order).toEqual(['a@100', 'b@300', 'c@300']);
  });

  test('a cancelled timer never fires', async () => {
    const s = makeScheduler();
    let fired = false;
    s.setTimer(50, () => {
      fired = true;
    }).cancel();
    await s.settle();
    expect(fired).toBe(false);
    expect(s.busy).toBe(false);
  });

  test('manual mode moves only when stepped', async () => {
    const s = makeScheduler({ auto: false });
    const log: number[] = [];
    s.setTimer(10, () => log.push(1));
    s.setTimer(20, () => log.push(2));
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual([]);
    expect(s.step()).toBe(true);
    expect(log).toEqual([1]);
    expect(s.now).toBe(10);
    expect(s.step()).toBe(true);
    expect(s.step()).toBe(false);
    expect(log).toEqual([1, 2]);
  });

  test('messages on one link keep their order; a fixed seed fixes the interleaving across links', () => {
    const run = (seed: number) => {
      const s = makeScheduler({ auto: false, seed });
      const got: string[] = [];
      for (let i = 0; i < 6; i++) {
        s.post('a->x', `a${i}`, () => got.push(`a${i}`));
        s.post('b->x', `b${i}`, () => got.push(`b${i}`));
      }
      while (s.step());
      return got;
    };
    const one = run(5);
    expect(one.filter((m) => m.startsWith('a'))).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
    expect(one.filter((m) => m.startsWith('b'))).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'b5']);
    expect(run(5)).toEqual(one);
    const others = [6, 7, 8, 9, 10].map(run);
    expect(others.some((o) => o.join() !== one.join())).toBe(true);
  });

  test('a delivery policy chooses among ready links; latency delays readiness', () => {
    const s = makeScheduler({ auto: false });
    s.fabric.policy = fifoPolicy;
    const got: string[] = [];
    s.post('slow', 'slow', () => got.push(`slow@${s.now}`), 500);
    s.post('fast', 'fast', () => got.push(`fast@${s.now}`), 100);
    while (s.step());
    expect(got).toEqual(['fast@100', 'slow@500']);
  });
});
