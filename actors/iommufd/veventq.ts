import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import { POLLIN } from '../mem/file-table.ts';
import { AnonObjectFile, reserveAnonFd } from './anon-fd.ts';
import type { IommufdCtx } from './ctx.ts';
import { fail } from './errno.ts';
import type { IoctlArg } from './ioctl-table.ts';
import { IommufdObject } from './object.ts';
import {
  IOMMU_VEVENTQ_FLAG_LOST_EVENTS,
  IOMMU_VEVENTQ_TYPE_DEFAULT,
  VEVENTQ_MAX_DEPTH,
} from './uapi-iommufd.ts';
import { iommufd_vevent_header } from './uapi-structs-iommufd.ts';
import type { Ucmd } from './ucmd.ts';
import type { Viommu } from './viommu.ts';

const HEADER_SIZE = iommufd_vevent_header.sizeof;
const INT_MAX = 0x7fff_ffff;

/** One queued record: a vEVENT with its payload, or the lost-events header (no payload). */
interface Vevent {
  readonly lost: boolean;
  sequence: number;
  readonly data: Uint8Array;
}

/**
 * IOMMUFD_OBJ_VEVENTQ: a bounded queue of vEVENTs of one type from a vIOMMU (which it references),
 * read through the `[iommufd-viommu-event]` fd. A full queue drops events and keeps one
 * lost-events header at its tail; every record takes the next sequence number (& INT_MAX), so
 * the loss also shows as a gap.
 */
export class Veventq extends IommufdObject {
  readonly type = 'VEVENTQ' as const;
  readonly #deliver: Vevent[] = [];
  /** The single lost-events header (`veventq->lost_events_header`), queued at most once. */
  readonly #lostHeader: Vevent = { lost: true, sequence: 0, data: new Uint8Array(0) };
  /** Real events queued (the lost header does not count). */
  #numEvents = 0;
  #sequence = 0;
  #attached = false;
  readonly #readable = new BehaviorSubject(false);
  /** poll(POLLIN) as a level. */
  readonly readable$: Observable<boolean> = this.#readable.pipe(distinctUntilChanged());

  constructor(
    readonly ctx: IommufdCtx,
    readonly viommu: Viommu,
    /** IOMMU_VEVENTQ_TYPE_*. */
    readonly eventType: number,
    readonly depth: number,
  ) {
    super();
  }

  /** Joins the vIOMMU's queue list and takes its reference (undone by destroy/abort). */
  attach(): void {
    this.viommu.veventqs.set(this.eventType, this);
    this.viommu.get();
    this.#attached = true;
  }

  /** The sequence number the next record takes. */
  get nextSequence(): number {
    return this.#sequence;
  }

  /** @internal Lets tests reach the INT_MAX wrap without 2^31 events. */
  set nextSequence(n: number) {
    this.#sequence = n & INT_MAX;
  }

  get numEvents(): number {
    return this.#numEvents;
  }

  /** Records queued, the lost header included. */
  get queued(): number {
    return this.#deliver.length;
  }

  /** `iommufd_viommu_report_event` once the queue is found. */
  report(payload: Uint8Array): void {
    if (this.#numEvents === this.depth) {
      this.#append(this.#lostHeader);
      return;
    }
    this.#numEvents++;
    this.#append({ lost: false, sequence: 0, data: payload.slice() });
  }

  /** `iommufd_vevent_handler`: a lost header that is last gives way to what comes next. */
  #append(ev: Vevent): void {
    if (this.#deliver[this.#deliver.length - 1] === this.#lostHeader) this.#deliver.pop();
    this.#deliver.push(ev);
    ev.sequence = this.#sequence;
    this.#sequence = (this.#sequence + 1) & INT_MAX;
    this.#sync();
  }

  /** read(): whole records, each an `iommufd_vevent_header` plus its payload. */
  read(count: number): Uint8Array {
    if (count < HEADER_SIZE) fail('EINVAL', `read of ${count} bytes is smaller than a header`);
    const taken: Vevent[] = [];
    let done = 0;
    while (this.#deliver.length > 0) {
      const ev = this.#deliver[0]!;
      if (HEADER_SIZE + ev.data.length > count - done) {
        if (done === 0) fail('EINVAL', `a ${HEADER_SIZE + ev.data.length}-byte record does not fit`);
        break;
      }
      this.#deliver.shift();
      taken.push(ev);
      done += HEADER_SIZE + ev.data.length;
      if (!ev.lost) this.#numEvents--;
    }
    this.#sync();
    // Sized by what was delivered, not by `count`, which userspace may make huge. A lost header
    // read here keeps the sequence it had when it was queued.
    const out = new Uint8Array(done);
    let off = 0;
    for (const ev of taken) {
      const flags = ev.lost ? IOMMU_VEVENTQ_FLAG_LOST_EVENTS : 0;
      iommufd_vevent_header.encodeInto({ flags, sequence: ev.sequence }, out, off);
      out.set(ev.data, off + HEADER_SIZE);
      off += HEADER_SIZE + ev.data.length;
    }
    return out;
  }

  poll(): number {
    return this.#deliver.length > 0 ? POLLIN : 0;
  }

  /** `iommufd_veventq_abort/destroy`: drops queued events and leaves the vIOMMU. */
  destroy(): void {
    this.#deliver.length = 0;
    this.#numEvents = 0;
    this.#sync();
    if (!this.#attached) return;
    this.#attached = false;
    if (this.viommu.veventqs.get(this.eventType) === this) this.viommu.veventqs.delete(this.eventType);
    this.viommu.put();
  }

  #sync(): void {
    this.#readable.next(this.#deliver.length > 0);
  }
}

/** The `[iommufd-viommu-event]` anon fd: read and poll (no write). */
export class VeventqFile extends AnonObjectFile {
  readonly kind = '[iommufd-viommu-event]';
  readonly readable$: Observable<boolean>;

  constructor(readonly veventq: Veventq) {
    super(veventq);
    this.readable$ = veventq.readable$;
  }

  read(count: number): Uint8Array {
    return this.veventq.read(count);
  }

  poll(): number {
    return this.veventq.poll();
  }
}

/** IOMMU_VEVENTQ_ALLOC: one queue per event type per vIOMMU, and its fd. */
export function iommufdVeventqAlloc(ucmd: Ucmd<IoctlArg<'IOMMU_VEVENTQ_ALLOC'>>): void {
  const { cmd, ctx } = ucmd;
  if (cmd.flags || cmd.__reserved || cmd.type === IOMMU_VEVENTQ_TYPE_DEFAULT) {
    fail('EOPNOTSUPP', 'flags, __reserved or type DEFAULT');
  }
  if (!cmd.veventq_depth || cmd.veventq_depth > VEVENTQ_MAX_DEPTH) {
    fail('EINVAL', `veventq_depth ${cmd.veventq_depth}`);
  }
  const viommu = ctx.objects.get<Viommu>(cmd.viommu_id, 'VIOMMU');
  if (viommu.veventqs.has(cmd.type)) fail('EEXIST', `a vEVENTQ of type 0x${cmd.type.toString(16)} exists`);
  const veventq = ctx.objects.create(() => new Veventq(ctx, viommu, cmd.type, cmd.veventq_depth));
  ucmd.newObj = veventq;
  veventq.attach();
  cmd.out_veventq_fd = reserveAnonFd(ucmd as Ucmd<object>, new VeventqFile(veventq));
  cmd.out_veventq_id = veventq.id;
  ucmd.respond();
}
