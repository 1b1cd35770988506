import { type Observable, Subject } from 'rxjs';

/** What every actor does, as one typed stream. `t` is virtual time in ns. */
export type FarmEvent =
  | { type: 'actor.transition'; t: number; actor: string; machine: string; state: unknown; event: string }
  | { type: 'ioctl'; t: number; process: string; ctx: number; ioctl: string; errno?: string }
  | {
      type: 'dma';
      t: number;
      device: string;
      op: 'read' | 'write';
      iova: bigint;
      length: number;
      pasid?: number;
      ok: boolean;
      fault?: string;
    }
  | { type: 'fabric.deliver'; t: number; link: string; label: string }
  | { type: 'irq'; t: number; source: string; count: bigint }
  | { type: 'cmd'; t: number; queue: string; opcode: string; detail?: string }
  | { type: 'fault'; t: number; iommu: string; device?: string; reason: string; detail?: string }
  | { type: 'object'; t: number; ctx: number; op: 'alloc' | 'destroy'; kind: string; id: number };

export type FarmEventType = FarmEvent['type'];

/**
 * Emits farm events only when someone listens: producers test `tracer.on` before building an
 * event object, so an unobserved farm pays one property read per would-be event.
 */
export class Tracer {
  readonly #subject = new Subject<FarmEvent>();
  readonly events$: Observable<FarmEvent> = this.#subject.asObservable();

  get on(): boolean {
    return this.#subject.observed;
  }

  emit(event: FarmEvent): void {
    if (this.#subject.observed) this.#subject.next(event);
  }
}
