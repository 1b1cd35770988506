import type { Observable } from 'rxjs';
import { fail } from '../iommufd/errno.ts';

/** poll(2) event bits (include/uapi/asm-generic/poll.h). */
export const POLLIN = 1;
export const POLLOUT = 4;

/** What `mmap(2)` asks of a file: the kernel's vma before `file->f_op->mmap()` accepts it. */
export interface MmapRequest {
  offset: bigint;
  length: bigint;
  prot: number;
  shared: boolean;
}

/** A VMA as seen by the object it maps, so the object can shoot down PTEs (truncate). */
export interface BackingMapping {
  /** Drops the mapping's PTEs for object pages at or beyond `pageIndex`. */
  zapFrom(pageIndex: bigint): void;
}

/** What backs a file VMA: a memfd's pages, or raw MMIO pfns such as a vIOMMU region. */
export interface MmapBacking {
  /** The frame behind page `pageIndex`, allocated on demand; takes no reference. EFAULT (SIGBUS) past EOF. */
  frameAt(pageIndex: bigint): bigint;
  /** Backed by 2 MiB contiguous pages: mapping offsets and lengths are huge-page granular. */
  readonly hugetlb?: boolean;
  /** VM_PFNMAP: the frames are not refcounted by mappings and can never be pinned (GUP gives EFAULT). */
  readonly pfnmap?: boolean;
  /** vm_ops open/close: every VMA, including each half of a split, attaches once and detaches once. */
  attach?(vma: BackingMapping): void;
  detach?(vma: BackingMapping): void;
}

/** An open file description. Anonymous inode files (fault fd, vEVENTQ fd, iommufd) implement what they support. */
export interface OpenFile {
  readonly kind: string;
  read?(count: number): Uint8Array;
  write?(bytes: Uint8Array): number;
  /** Currently ready events: POLLIN | POLLOUT. */
  poll?(): number;
  /** The last close: called exactly once. */
  release(): void;
  readonly readable$?: Observable<boolean>;
  /** `f_op->mmap`: validates the request and names the backing, with no side effect (a VMA takes its hold
   * through `attach`, and a failed MAP_FIXED never attaches). Absent → ENODEV, as in Linux. */
  mmap?(req: MmapRequest): MmapBacking;
  /** ftruncate(2); absent → EINVAL, as for a file that is not a regular file. */
  truncate?(size: bigint): void;
}

/** The first fd handed out: 0-2 are stdin, stdout and stderr. */
const FIRST_FD = 3;

/** A process's fd table. New fds take the lowest free number, as POSIX requires. */
export class FileTable {
  readonly #files = new Map<number, OpenFile>();

  install(file: OpenFile): number {
    let fd = FIRST_FD;
    while (this.#files.has(fd)) fd++;
    this.#files.set(fd, file);
    return fd;
  }

  get(fd: number): OpenFile {
    return this.#files.get(fd) ?? fail('EBADF', `fd ${fd} is not open`);
  }

  has(fd: number): boolean {
    return this.#files.has(fd);
  }

  /** The fd is free again before `release()` runs, so a release that opens a file cannot reuse a dead entry. */
  close(fd: number): void {
    const file = this.get(fd);
    this.#files.delete(fd);
    file.release();
  }

  /** Process exit: every fd in ascending order. */
  closeAll(): void {
    for (const fd of this.fds()) this.close(fd);
  }

  fds(): number[] {
    return [...this.#files.keys()].sort((a, b) => a - b);
  }

  get size(): number {
    return this.#files.size;
  }
}
