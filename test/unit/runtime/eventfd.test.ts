import { describe, expect, test } from 'vitest';
import { EventFd } from '../../../actors/runtime/eventfd.ts';

describe('EventFd', () => {
  test('writes add, a read returns the count and clears it', () => {
    const e = new EventFd('irq');
    e.write(1n);
    e.write(2n);
    expect(e.count).toBe(3n);
    expect(e.read()).toBe(3n);
    expect(e.read()).toBeUndefined();
  });

  test('readable$ is the POLLIN level', () => {
    const e = new EventFd('irq');
    const levels: boolean[] = [];
    e.readable$.subscribe((v) => levels.push(v));
    e.write(1n);
    e.write(1n);
    e.read();
    expect(levels).toEqual([false, true, false]);
  });

  test('interrupts coalesce the writes made before the deferred drain', () => {
    const queue: Array<() => void> = [];
    const e = new EventFd('irq', (fn) => queue.push(fn));
    const irqs: bigint[] = [];
    e.interrupts$.subscribe((n) => irqs.push(n));
    e.write(1n);
    e.write(2n);
    e.write(4n);
    expect(queue).toHaveLength(1);
    queue.shift()!();
    expect(irqs).toEqual([7n]);
    expect(e.count).toBe(0n);
  });

  test('the counter refuses to pass 0xfffffffffffffffe (EAGAIN) and negative writes (EINVAL)', () => {
    const e = new EventFd('irq');
    e.write(0xffff_ffff_ffff_fffen);
    expect(() => e.write(1n)).toThrow(expect.objectContaining({ errno: 'EAGAIN' }));
    expect(e.count).toBe(0xffff_ffff_ffff_fffen);
    expect(() => e.write(-1n)).toThrow(expect.objectContaining({ errno: 'EINVAL' }));
  });
});
