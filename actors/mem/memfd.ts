import { check, fail, warnOn } from '../iommufd/errno.ts';
import type { BackingMapping, MmapBacking, MmapRequest, OpenFile } from './file-table.ts';
import { POLLIN, POLLOUT } from './file-table.ts';
import { HPAGE_PAGES, HPAGE_SIZE_N, isAligned, PAGE_SIZE, PAGE_SIZE_N } from './page.ts';
import type { PhysMemory } from './phys-memory.ts';

export interface MemFileOptions {
  size?: bigint;
  /** MFD_HUGETLB: backed by 2 MiB physically contiguous pages; sizes must be huge-page multiples. */
  hugetlb?: boolean;
  name?: string;
}

/** off_t is signed: larger sizes cannot be expressed. */
const MAX_FILE_SIZE = (1n << 63n) - 1n;

/**
 * The inode behind a memfd (shmem or hugetlbfs). It owns one reference per resident page; mappings and
 * pins take their own, so truncating a pinned page only drops the file's claim on it.
 *
 * Lifetime: open files and VMAs each hold the inode; when the last goes, the pages are freed.
 */
export class MemFile implements MmapBacking {
  readonly hugetlb: boolean;
  readonly name: string;
  #size: bigint;
  /** page index → pfn, both as numbers for speed. */
  readonly #pages = new Map<number, number>();
  readonly #mappings = new Set<BackingMapping>();
  #refs = 0;

  constructor(
    readonly phys: PhysMemory,
    opts: MemFileOptions = {},
  ) {
    this.hugetlb = opts.hugetlb ?? false;
    this.name = opts.name ?? 'memfd';
    this.#size = 0n;
    if (opts.size) this.truncate(opts.size);
  }

  get size(): bigint {
    return this.#size;
  }

  get residentPages(): number {
    return this.#pages.size;
  }

  /** ftruncate: growing adds holes that read as zero; shrinking zaps mappings and drops pages past EOF. */
  truncate(size: bigint): void {
    check(size >= 0n && size <= MAX_FILE_SIZE, 'EINVAL', `size ${size}`);
    if (this.hugetlb) check(isAligned(size, HPAGE_SIZE_N), 'EINVAL', 'hugetlbfs size not huge-page aligned');
    const old = this.#size;
    this.#size = size;
    if (size >= old) return;
    const keep = ceilPages(size);
    for (const m of this.#mappings) m.zapFrom(BigInt(keep));
    this.#dropFrom(keep);
    // The partial last page keeps its frame, but bytes past EOF must read as zero if the file regrows.
    const tail = Number(size % PAGE_SIZE_N);
    const last = this.#pages.get(keep - 1);
    if (tail !== 0 && last !== undefined) {
      this.phys.fill(BigInt(last) * PAGE_SIZE_N + BigInt(tail), PAGE_SIZE - tail);
    }
  }

  /** The frame of page `pageIndex`, allocated on first use. EFAULT past EOF: the SIGBUS a fault there gets. */
  frameAt(pageIndex: bigint): bigint {
    check(pageIndex >= 0n && pageIndex < ceilPages(this.#size), 'EFAULT', `page ${pageIndex} past EOF`);
    return BigInt(this.#frame(Number(pageIndex)));
  }

  /** The resident frame of a page, without allocating. */
  lookup(pageIndex: bigint): bigint | undefined {
    const pfn = this.#pages.get(Number(pageIndex));
    return pfn === undefined ? undefined : BigInt(pfn);
  }

  /**
   * Pins the pages covering [offset, offset+length), as `memfd_pin_folios()` for IOMMU_IOAS_MAP_FILE.
   * EINVAL for an empty range or one past EOF (shmem will not allocate there). All or nothing.
   */
  pinRange(offset: bigint, length: bigint): bigint[] {
    check(offset >= 0n && length > 0n && offset + length <= this.#size, 'EINVAL', 'pin range outside file');
    this.phys.failNth.point('pin', 'memfd_pin_folios');
    const first = Number(offset / PAGE_SIZE_N);
    const last = ceilPages(offset + length);
    const frames: bigint[] = [];
    try {
      for (let i = first; i < last; i++) {
        const pfn = BigInt(this.#frame(i));
        this.phys.get(pfn);
        frames.push(pfn);
      }
    } catch (err) {
      this.unpin(frames);
      throw err;
    }
    return frames;
  }

  unpin(frames: readonly bigint[]): void {
    for (const pfn of frames) this.phys.put(pfn);
  }

  /** pread: short at EOF; holes read as zero without allocating. */
  read(offset: bigint, length: number): Uint8Array {
    check(offset >= 0n && length >= 0, 'EINVAL');
    const avail = offset >= this.#size ? 0 : Number(bigMin(BigInt(length), this.#size - offset));
    const out = new Uint8Array(avail);
    this.#eachPage(offset, avail, (index, off, done, n) => {
      const pfn = this.#pages.get(index);
      if (pfn !== undefined) out.set(this.phys.read(BigInt(pfn) * PAGE_SIZE_N + BigInt(off), n), done);
    });
    return out;
  }

  /** pwrite: extends the file (hugetlbfs cannot grow by writing: EINVAL). Returns the byte count. */
  write(offset: bigint, bytes: Uint8Array): number {
    check(offset >= 0n, 'EINVAL');
    const end = offset + BigInt(bytes.length);
    if (end > this.#size) {
      check(!this.hugetlb, 'EINVAL', 'hugetlbfs write past EOF');
      this.#size = end;
    }
    this.#eachPage(offset, bytes.length, (index, off, done, n) => {
      this.phys.write(BigInt(this.#frame(index)) * PAGE_SIZE_N + BigInt(off), bytes.subarray(done, done + n));
    });
    return bytes.length;
  }

  /** A new open file description on this inode (what `memfd_create()` installs). */
  open(): MemfdFile {
    return new MemfdFile(this);
  }

  hold(): void {
    this.#refs++;
  }

  release(): void {
    warnOn(this.#refs <= 0, `memfd ${this.name} released more than held`);
    if (--this.#refs === 0) this.#dropFrom(0);
  }

  attach(vma: BackingMapping): void {
    this.#mappings.add(vma);
    this.hold();
  }

  detach(vma: BackingMapping): void {
    warnOn(!this.#mappings.delete(vma), 'detach of a VMA that never attached');
    this.release();
  }

  #frame(index: number): number {
    const pfn = this.#pages.get(index);
    if (pfn !== undefined) return pfn;
    if (!this.hugetlb) {
      const p = Number(this.phys.allocPage());
      this.#pages.set(index, p);
      return p;
    }
    const head = index - (index % HPAGE_PAGES);
    const base = Number(this.phys.allocContiguous(HPAGE_PAGES, HPAGE_PAGES));
    for (let i = 0; i < HPAGE_PAGES; i++) this.#pages.set(head + i, base + i);
    return base + (index - head);
  }

  #dropFrom(keep: number): void {
    for (const [index, pfn] of this.#pages) {
      if (index < keep) continue;
      this.#pages.delete(index);
      this.phys.put(BigInt(pfn));
    }
  }

  #eachPage(
    offset: bigint,
    length: number,
    visit: (index: number, off: number, done: number, n: number) => void,
  ) {
    let index = Number(offset / PAGE_SIZE_N);
    let off = Number(offset % PAGE_SIZE_N);
    for (let done = 0; done < length; index++, off = 0) {
      const n = Math.min(length - done, PAGE_SIZE - off);
      visit(index, off, done, n);
      done += n;
    }
  }
}

/** An open memfd: a file position over the inode, plus mmap and ftruncate. */
export class MemfdFile implements OpenFile {
  readonly kind = 'memfd';
  #pos = 0n;
  #released = false;

  constructor(readonly inode: MemFile) {
    inode.hold();
  }

  read(count: number): Uint8Array {
    const data = this.inode.read(this.#pos, count);
    this.#pos += BigInt(data.length);
    return data;
  }

  write(bytes: Uint8Array): number {
    const n = this.inode.write(this.#pos, bytes);
    this.#pos += BigInt(n);
    return n;
  }

  poll(): number {
    return POLLIN | POLLOUT;
  }

  /** Private mappings are treated as shared: without fork or COW the difference is unobservable here. */
  mmap(req: MmapRequest): MmapBacking {
    if (this.inode.hugetlb) check(isAligned(req.offset, HPAGE_SIZE_N), 'EINVAL', 'hugetlb mmap offset');
    return this.inode;
  }

  truncate(size: bigint): void {
    this.inode.truncate(size);
  }

  release(): void {
    if (this.#released) fail('EBADF', 'memfd released twice');
    this.#released = true;
    this.inode.release();
  }
}

function ceilPages(bytes: bigint): number {
  return Number((bytes + PAGE_SIZE_N - 1n) / PAGE_SIZE_N);
}

function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
