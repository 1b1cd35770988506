import type { ActorOptions, AnyActorLogic } from 'xstate';
import { NS_PER_MS } from './runtime/clock.ts';
import type { Scheduler, TimerHandle } from './runtime/scheduler.ts';

type XstateClock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

/** XState's `after` delays (ms) on the farm's virtual clock, so machines and Rx share one time. */
export function xstateClock(scheduler: Scheduler): XstateClock {
  const timers = new Map<number, TimerHandle>();
  let next = 1;
  return {
    setTimeout(fn: (...args: unknown[]) => void, ms: number) {
      const id = next++;
      timers.set(
        id,
        scheduler.setTimer(ms * NS_PER_MS, () => {
          timers.delete(id);
          fn();
        }),
      );
      return id;
    },
    clearTimeout(id: unknown) {
      timers.get(id as number)?.cancel();
      timers.delete(id as number);
    },
  };
}
