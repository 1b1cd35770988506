import { type FailNth, NEVER_FAILS } from '../runtime/fail-nth.ts';
import { IommufdError } from './errno.ts';
import type { IommufdObject, ObjectType } from './object.ts';

type Slot = IommufdObject | 'reserved' | 'tombstone';

const ID_LIMIT = 0x7fff_ffff; // xa_limit_31b

/**
 * A ctx's object xarray: IDs are the lowest free value ≥ 1 (XA_FLAGS_ALLOC1), reserved at
 * allocation, released on abort, and never reused while tombstoned.
 */
export class ObjectTable {
  readonly #slots = new Map<number, Slot>();
  /** Freed IDs below `#next`, kept as a min-heap so allocation stays logarithmic. */
  readonly #free: number[] = [];
  #next = 1;

  constructor(readonly failNth: FailNth = NEVER_FAILS) {}

  get size(): number {
    let n = 0;
    for (const slot of this.#slots.values()) if (typeof slot !== 'string') n++;
    return n;
  }

  /** `xa_empty()`: no live object, reserved ID or tombstone at all. */
  get isEmpty(): boolean {
    return this.#slots.size === 0;
  }

  /** Reserves an ID for `obj` (invisible to lookups until `finalize`). */
  alloc<T extends IommufdObject>(obj: T): T {
    this.failNth.point('alloc', 'iommufd_object');
    obj.id = this.reserveId();
    return obj;
  }

  /**
   * `iommufd_object_alloc` then the body: the memory and the ID come first, so a failure there
   * leaves nothing to undo; `build` (which takes references on other objects) runs only after.
   */
  create<T extends IommufdObject>(build: () => T): T {
    this.failNth.point('alloc', 'iommufd_object');
    const id = this.reserveId();
    let obj: T;
    try {
      obj = build();
    } catch (err) {
      this.releaseId(id);
      throw err;
    }
    obj.id = id;
    return obj;
  }

  /**
   * Takes the next ID before the object exists, as `__iommufd_object_alloc` does before a driver
   * builds a domain: a failed driver call still consumed (and then released) the ID.
   */
  reserveId(): number {
    this.failNth.point('alloc', 'xa_alloc');
    const id = this.#takeId();
    this.#slots.set(id, 'reserved');
    return id;
  }

  /** Gives a reserved ID back when nothing was built on it. */
  releaseId(id: number): void {
    if (this.#slots.get(id) !== 'reserved') throw new Error(`object ID ${id} is not reserved`);
    this.#release(id);
  }

  /** Makes a fully built object visible. */
  finalize(obj: IommufdObject): void {
    if (this.#slots.get(obj.id) !== 'reserved') throw new Error(`object ${obj.id} finalized twice`);
    this.#slots.set(obj.id, obj);
    obj.live = true;
  }

  /** Drops an object whose creation failed: its ID becomes free again. */
  async abort(obj: IommufdObject): Promise<void> {
    if (this.#slots.get(obj.id) !== 'reserved') throw new Error(`object ${obj.id} aborted after finalize`);
    this.#release(obj.id);
    await obj.abort();
  }

  /** `iommufd_get_object`: a missing ID, a reserved or tombstoned slot, or a wrong type → ENOENT. */
  get<T extends IommufdObject = IommufdObject>(id: number, ...types: ObjectType[]): T {
    const slot = this.#slots.get(id);
    if (slot === undefined || typeof slot === 'string') throw new IommufdError('ENOENT', `no object ${id}`);
    if (types.length > 0 && !types.includes(slot.type)) {
      throw new IommufdError('ENOENT', `object ${id} is ${slot.type}, not ${types.join('|')}`);
    }
    return slot as T;
  }

  tryGet(id: number): IommufdObject | undefined {
    const slot = this.#slots.get(id);
    return slot === undefined || typeof slot === 'string' ? undefined : slot;
  }

  /**
   * `iommufd_object_remove` for IOMMU_DESTROY: ENOENT, or EBUSY while referenced (nothing
   * changes); else the object leaves the table and is returned for the caller to destroy.
   */
  removeUser(id: number): IommufdObject {
    const obj = this.get(id);
    if (obj.users !== 1) throw new IommufdError('EBUSY', `object ${id} has ${obj.users - 1} users`);
    this.remove(obj);
    return obj;
  }

  /** Takes a live object out of the table (the caller destroys it); its ID becomes free. */
  remove(obj: IommufdObject): void {
    if (this.#slots.get(obj.id) !== obj) throw new Error(`object ${obj.id} is not live`);
    this.#release(obj.id);
    obj.live = false;
  }

  /** Takes a live object out but keeps its ID reserved until close (it reads as ENOENT). */
  tombstone(obj: IommufdObject): void {
    if (this.#slots.get(obj.id) !== obj) throw new Error(`object ${obj.id} is not live`);
    this.#slots.set(obj.id, 'tombstone');
    obj.live = false;
  }

  /** True while `id` is taken (live, reserved or tombstoned). */
  isTaken(id: number): boolean {
    return this.#slots.has(id);
  }

  /** Live objects in ID order. */
  *objects(): Generator<IommufdObject> {
    const ids = [...this.#slots.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      const slot = this.#slots.get(id);
      if (slot !== undefined && typeof slot !== 'string') yield slot;
    }
  }

  /**
   * Close: destroys leaf objects (users == 1) repeatedly. No progress with objects left means
   * a refcount leak in the simulator, which is a bug, not a user error.
   */
  async destroyAll(destroyOne: (obj: IommufdObject) => Promise<void>): Promise<void> {
    for (;;) {
      let progressed = false;
      let remaining = 0;
      for (const obj of [...this.objects()]) {
        if (!obj.live) continue;
        if (obj.users === 1) {
          await destroyOne(obj);
          progressed = true;
        } else remaining++;
      }
      if (remaining === 0) break;
      if (!progressed) {
        const stuck = [...this.objects()].map((o) => `${o.type}#${o.id}(users=${o.users})`).join(', ');
        throw new Error(`iommufd close cannot progress: ${stuck}`);
      }
    }
    this.#slots.clear();
    this.#free.length = 0;
    this.#next = 1;
  }

  #takeId(): number {
    const heap = this.#free;
    if (heap.length > 0) {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        siftDown(heap, 0);
      }
      return top;
    }
    if (this.#next > ID_LIMIT) throw new IommufdError('ENOSPC', 'object IDs exhausted');
    return this.#next++;
  }

  #release(id: number): void {
    this.#slots.delete(id);
    const heap = this.#free;
    heap.push(id);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p]! <= heap[i]!) break;
      [heap[p], heap[i]] = [heap[i]!, heap[p]!];
      i = p;
    }
  }
}

function siftDown(heap: number[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < heap.length && heap[l]! < heap[m]!) m = l;
    if (r < heap.length && heap[r]! < heap[m]!) m = r;
    if (m === i) return;
    [heap[m], heap[i]] = [heap[i]!, heap[m]!];
    i = m;
  }
}
