import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { Rng } from '../../../actors/runtime/rng.ts';

describe('Rng', () => {
  test('the same seed gives the same sequence, another seed another', () => {
    const draw = (seed: number) =>
      Array.from(
        { length: 8 },
        (
          (r) => () =>
            r.nextU32()
        )(new Rng(seed)),
      );
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  prop.prop([fc.integer(), fc.integer({ min: 1, max: 1000 })])('below(n) stays in [0, n)', (seed, n) => {
    const r = new Rng(seed);
    for (let i = 0; i < 20; i++) {
      const v = r.below(n);
      expect(Number.isInteger(v) && v >= 0 && v < n).toBe(true);
    }
  });

  test('forked streams do not depend on how much the parent draws afterwards', () => {
    const a = new Rng(7);
    const forkA = a.fork('fabric');
    const b = new Rng(7);
    const forkB = b.fork('fabric');
    for (let i = 0; i < 100; i++) b.nextU32();
    expect([forkA.nextU32(), forkA.nextU32()]).toEqual([forkB.nextU32(), forkB.nextU32()]);
    expect(new Rng(7).fork('x').nextU32()).not.toBe(new Rng(7).fork('y').nextU32());
  });

  test('below rejects a non-positive bound', () => {
    expect(() => new Rng(1).below(0)).toThrow(/positive integer/);
  });

  test('draws are roughly uniform', () => {
    const r = new Rng(3);
    const buckets = new Array(4).fill(0);
    for (let i = 0; i < 4000; i++) buckets[r.below(4)]++;
    for (const b of buckets) expect(b).toBeGreaterThan(850);
  });
});
