import { FileHandle } from './file-handle.ts';
import type { Host } from './host.ts';
import { IommufdCtx } from './iommufd/ctx.ts';
import type { ProcessEnv } from './iommufd/env.ts';
import { fail } from './iommufd/errno.ts';
import { Iommufd, IommufdFile } from './iommufd-file.ts';
import { AddressSpace, type MmapOptions } from './mem/address-space.ts';
import { FileTable, type OpenFile } from './mem/file-table.ts';
import type { UserAccount } from './mem/locked-vm.ts';
import { MemFile, MemfdFile } from './mem/memfd.ts';
import { PAGE_SIZE_N } from './mem/page.ts';
import { VfioDevice, VfioDeviceFile } from './vfio/vfio-device.ts';

/** Options of {@link Host.spawnProcess}. */
export interface ProcessOptions {
  readonly name: string;
  /** RLIMIT_MEMLOCK in bytes; unlimited when absent. */
  readonly memlockLimit?: bigint;
  /** root (CAP_SYS_RESOURCE, CAP_IPC_LOCK), as the kernel selftest runs; default true. */
  readonly privileged?: boolean;
  readonly uid?: number;
}

/**
 * A user process on a host: an address space, a file table, credentials and RLIMIT_MEMLOCK.
 * It opens /dev/iommu and VFIO device cdevs, and its memory is what DMA reads and writes.
 */
export class Process {
  readonly name: string;
  readonly mm: AddressSpace;
  readonly files = new FileTable();
  readonly privileged: boolean;
  readonly memlockLimit: bigint | undefined;
  readonly env: ProcessEnv;

  constructor(
    readonly host: Host,
    opts: ProcessOptions,
    readonly pid: number,
    readonly user: UserAccount,
  ) {
    this.name = opts.name;
    this.privileged = opts.privileged ?? true;
    this.memlockLimit = opts.memlockLimit;
    this.mm = new AddressSpace(host.phys, { files: this.files });
    this.env = {
      name: this.name,
      pid,
      mm: this.mm,
      files: this.files,
      privileged: this.privileged,
      memlockLimitPages: opts.memlockLimit === undefined ? undefined : opts.memlockLimit / PAGE_SIZE_N,
      user,
    };
  }

  /** mmap(2): maps `length` bytes (anonymous unless `fd` is given) and returns the user VA. */
  mmap(length: bigint | number, opts: MmapOptions = {}): bigint {
    return this.mm.mmap(length, opts);
  }

  /** munmap(2). */
  munmap(va: bigint, length: bigint | number): void {
    this.mm.munmap(va, length);
  }

  /** Reads `length` bytes of the process's memory at `va`. */
  read(va: bigint, length: number): Uint8Array {
    return this.mm.read(va, length);
  }

  /** Writes `bytes` into the process's memory at `va`. */
  write(va: bigint, bytes: Uint8Array): void {
    this.mm.write(va, bytes);
  }

  /** memfd_create + ftruncate(size): returns the fd. */
  memfd(size: bigint | number = 0n, opts: { hugetlb?: boolean; name?: string } = {}): number {
    const inode = new MemFile(this.host.phys, { size: BigInt(size), ...opts });
    return this.files.install(inode.open());
  }

  /** ftruncate(2) of a memfd. */
  ftruncate(fd: number, size: bigint | number): void {
    const file = this.files.get(fd);
    if (!file.truncate) fail('EINVAL', `fd ${fd} cannot be truncated`);
    file.truncate(BigInt(size));
  }

  /** Opens /dev/iommu: a new iommufd_ctx. */
  openIommufd(): Iommufd {
    const ctx = new IommufdCtx({ process: this.env, host: this.host.env });
    const file = new IommufdFile(ctx);
    return new Iommufd(this, this.files.install(file), file);
  }

  /** Opens the VFIO cdev of a host device. */
  openVfioDevice(name: string): VfioDevice {
    const file = new VfioDeviceFile(this, this.host.device(name));
    return new VfioDevice(this, this.files.install(file), file);
  }

  /** An anonymous file (fault fd, vEVENTQ fd, access fd ...) by number. */
  file(fd: number): FileHandle {
    return new FileHandle(this, fd, this.files.get(fd));
  }

  /** close(2): drops the fd's reference; the file goes when its last reference does. */
  close(fd: number): void {
    this.files.close(fd);
  }

  /** EBADF if `fd` no longer names `file` (closed, or reused for something else). */
  checkFd(fd: number, file: OpenFile): void {
    if (!this.files.has(fd) || this.files.get(fd) !== file) fail('EBADF', `fd ${fd} is not open`);
  }

  /** Memfd inode behind `fd` (for tests and tools). */
  memfdInode(fd: number): MemFile {
    const file = this.files.get(fd);
    if (!(file instanceof MemfdFile)) fail('EINVAL', `fd ${fd} is not a memfd`);
    return file.inode;
  }
}
