import { fail, SimulatorBug } from '../iommufd/errno.ts';
import { type FailNth, NEVER_FAILS } from '../runtime/fail-nth.ts';
import { FrameAllocator } from './frame-allocator.ts';
import { HPAGE_PAGES, PAGE_SIZE } from './page.ts';

/**
 * An access to a physical address with no allocated frame behind it: a simulator bug, or a DMA
 * through a stale translation. Not an errno: the caller decides what it means.
 */
export class PhysAccessError extends Error {
  constructor(
    readonly pa: bigint,
    detail: string,
  ) {
    super(`physical access at 0x${pa.toString(16)}: ${detail}`);
    this.name = 'PhysAccessError';
  }
}

export interface PhysMemoryOptions {
  /** RAM size; allocations beyond it fail with ENOMEM. Default 64 GiB. */
  totalBytes?: bigint;
  /** First pfn handed out, so PA 0 (a classic "forgot to translate" value) is never valid RAM. */
  basePfn?: bigint;
  /** The farm's fail_nth, reached by everything that allocates from this memory (GUP, drivers). */
  failNth?: FailNth;
}

export interface PhysMemoryStats {
  allocatedFrames: number;
  allocatedBytes: bigint;
  totalBytes: bigint;
}

/** A cheap summary that tests compare before and after an operation. */
export interface PhysMemorySnapshot {
  allocatedFrames: number;
  /** Frames whose contents were ever written (the rest read as zero without storage). */
  populatedFrames: number;
  totalRefs: number;
  nextPfn: bigint;
}

/** A frame's bytes are created on first write so that huge, untouched buffers cost no host memory. */
interface Frame {
  refs: number;
  bytes: Uint8Array | undefined;
  view: DataView | undefined;
}

const MAX_PA = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A host's physical memory, sparse. Frames are keyed by pfn as a JS number internally (pfns fit in
 * 53 bits) because bigint map keys and arithmetic are slow on the page-table walk path.
 * Pfns come from a deterministic {@link FrameAllocator}.
 */
export class PhysMemory {
  readonly totalBytes: bigint;
  readonly basePfn: bigint;
  readonly failNth: FailNth;
  readonly #maxFrames: number;
  readonly #frames = new Map<number, Frame>();
  readonly #alloc: FrameAllocator;
  #populated = 0;

  constructor(opts: PhysMemoryOptions = {}) {
    this.totalBytes = opts.totalBytes ?? 64n << 30n;
    this.basePfn = opts.basePfn ?? 0x100n;
    this.failNth = opts.failNth ?? NEVER_FAILS;
    this.#maxFrames = Number(this.totalBytes / BigInt(PAGE_SIZE));
    this.#alloc = new FrameAllocator(Number(this.basePfn), HPAGE_PAGES);
  }

  /** One zero-filled frame with refcount 1. */
  allocPage(): bigint {
    this.#reserve(1);
    const pfn = this.#alloc.alloc();
    this.#frames.set(pfn, { refs: 1, bytes: undefined, view: undefined });
    return BigInt(pfn);
  }

  /** `npages` physically contiguous zeroed frames, the first aligned to `alignPages`; returns the first pfn. */
  allocContiguous(npages: number, alignPages: number = npages): bigint {
    if (npages <= 0 || alignPages <= 0 || (alignPages & (alignPages - 1)) !== 0) {
      throw new SimulatorBug(`allocContiguous(${npages}, ${alignPages})`);
    }
    this.#reserve(npages);
    const start = this.#alloc.allocRun(npages, alignPages);
    for (let p = start; p < start + npages; p++) {
      this.#frames.set(p, { refs: 1, bytes: undefined, view: undefined });
    }
    return BigInt(start);
  }

  get(pfn: bigint): void {
    this.#frame(pfn).refs++;
  }

  /** Drops a reference; at zero the frame is freed and its contents discarded. */
  put(pfn: bigint): void {
    const f = this.#frame(pfn);
    if (--f.refs > 0) return;
    const p = Number(pfn);
    if (f.bytes) this.#populated--;
    this.#frames.delete(p);
    this.#alloc.free(p);
  }

  refcount(pfn: bigint): number {
    return this.#frames.get(Number(pfn))?.refs ?? 0;
  }

  isAllocated(pfn: bigint): boolean {
    return this.#frames.has(Number(pfn));
  }

  read(pa: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const bad = this.#copyOut(pa, out);
    if (bad !== undefined) throw new PhysAccessError(bad, 'no frame');
    return out;
  }

  /** As `read`, but undefined instead of throwing when any byte has no frame. */
  tryRead(pa: bigint, length: number): Uint8Array | undefined {
    const out = new Uint8Array(length);
    return this.#copyOut(pa, out) === undefined ? out : undefined;
  }

  /** All-or-nothing: every frame is checked before any byte changes. */
  write(pa: bigint, bytes: Uint8Array): void {
    this.#span(pa, bytes.length, () => {});
    let done = 0;
    this.#span(pa, bytes.length, (f, off, n) => {
      this.#bytes(f).set(bytes.subarray(done, done + n), off);
      done += n;
    });
  }

  fill(pa: bigint, length: number, value = 0): void {
    this.#span(pa, length, () => {});
    this.#span(pa, length, (f, off, n) => {
      if (value === 0 && !f.bytes) return;
      this.#bytes(f).fill(value, off, off + n);
    });
  }

  readU32(pa: bigint): number {
    const n = toNumber(pa);
    const off = n % PAGE_SIZE;
    if (off > PAGE_SIZE - 4) return new DataView(this.read(pa, 4).buffer).getUint32(0, true);
    const f = this.#frameAt(pa, n);
    return f.view ? f.view.getUint32(off, true) : 0;
  }

  readU64(pa: bigint): bigint {
    const n = toNumber(pa);
    const off = n % PAGE_SIZE;
    if (off > PAGE_SIZE - 8) return new DataView(this.read(pa, 8).buffer).getBigUint64(0, true);
    const f = this.#frameAt(pa, n);
    return f.view ? f.view.getBigUint64(off, true) : 0n;
  }

  writeU32(pa: bigint, value: number): void {
    const n = toNumber(pa);
    const off = n % PAGE_SIZE;
    if (off <= PAGE_SIZE - 4) {
      const f = this.#frameAt(pa, n);
      this.#bytes(f);
      f.view!.setUint32(off, value, true);
    } else {
      this.write(
        pa,
        le(4, (v) => v.setUint32(0, value, true)),
      );
    }
  }

  writeU64(pa: bigint, value: bigint): void {
    const n = toNumber(pa);
    const off = n % PAGE_SIZE;
    if (off <= PAGE_SIZE - 8) {
      const f = this.#frameAt(pa, n);
      this.#bytes(f);
      f.view!.setBigUint64(off, value, true);
    } else {
      this.write(
        pa,
        le(8, (v) => v.setBigUint64(0, value, true)),
      );
    }
  }

  stats(): PhysMemoryStats {
    const allocatedFrames = this.#frames.size;
    return {
      allocatedFrames,
      allocatedBytes: BigInt(allocatedFrames * PAGE_SIZE),
      totalBytes: this.totalBytes,
    };
  }

  snapshot(): PhysMemorySnapshot {
    let totalRefs = 0;
    for (const f of this.#frames.values()) totalRefs += f.refs;
    return {
      allocatedFrames: this.#frames.size,
      populatedFrames: this.#populated,
      totalRefs,
      nextPfn: BigInt(this.#alloc.nextPfn),
    };
  }

  /** Every allocated pfn, ascending: for leak reports. */
  allocatedPfns(): bigint[] {
    return [...this.#frames.keys()].sort((a, b) => a - b).map((p) => BigInt(p));
  }

  #reserve(npages: number): void {
    if (this.#frames.size + npages > this.#maxFrames) {
      fail('ENOMEM', `physical memory exhausted (${npages} more frames of ${this.#maxFrames})`);
    }
  }

  #frame(pfn: bigint): Frame {
    const f = this.#frames.get(Number(pfn));
    if (!f) throw new SimulatorBug(`refcount on unallocated pfn 0x${pfn.toString(16)}`);
    return f;
  }

  #frameAt(pa: bigint, n: number): Frame {
    const f = this.#frames.get(Math.floor(n / PAGE_SIZE));
    if (!f) throw new PhysAccessError(pa, 'no frame');
    return f;
  }

  #bytes(f: Frame): Uint8Array {
    if (!f.bytes) {
      f.bytes = new Uint8Array(PAGE_SIZE);
      f.view = new DataView(f.bytes.buffer);
      this.#populated++;
    }
    return f.bytes;
  }

  /** Visits each frame piece of [pa, pa+length); throws PhysAccessError before visiting a hole. */
  #span(pa: bigint, length: number, visit: (f: Frame, off: number, n: number) => void): void {
    let n = toNumber(pa);
    let left = length;
    while (left > 0) {
      const off = n % PAGE_SIZE;
      const chunk = Math.min(left, PAGE_SIZE - off);
      const f = this.#frames.get(Math.floor(n / PAGE_SIZE));
      if (!f) throw new PhysAccessError(BigInt(n), 'no frame');
      visit(f, off, chunk);
      n += chunk;
      left -= chunk;
    }
  }

  /** Copies into `out`; returns the first unbacked PA instead of throwing. */
  #copyOut(pa: bigint, out: Uint8Array): bigint | undefined {
    if (pa < 0n || pa + BigInt(out.length) > MAX_PA) return pa;
    let n = Number(pa);
    let done = 0;
    while (done < out.length) {
      const off = n % PAGE_SIZE;
      const chunk = Math.min(out.length - done, PAGE_SIZE - off);
      const f = this.#frames.get(Math.floor(n / PAGE_SIZE));
      if (!f) return BigInt(n);
      if (f.bytes) out.set(f.bytes.subarray(off, off + chunk), done);
      n += chunk;
      done += chunk;
    }
    return undefined;
  }
}

function toNumber(pa: bigint): number {
  if (pa < 0n || pa > MAX_PA) throw new PhysAccessError(pa, 'beyond the simulated physical address space');
  return Number(pa);
}

function le(size: number, fill: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}
