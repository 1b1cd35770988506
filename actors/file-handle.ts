import type { Observable } from 'rxjs';
import { fail } from './iommufd/errno.ts';
import type { OpenFile } from './mem/file-table.ts';
import type { Process } from './process.ts';

/** `proc.file(fd)`: read/write/poll/close on an open file, and its readiness as an observable. */
export class FileHandle {
  constructor(
    readonly process: Process,
    readonly fd: number,
    readonly file: OpenFile,
  ) {}

  /** What the file is: `[iommufd-pgfault]`, `[iommufd-vevent]` ... */
  get kind(): string {
    return this.file.kind;
  }

  /** read(2): up to `count` bytes, with the file's own rules (whole records, ESPIPE ...). */
  read(count: number): Uint8Array {
    this.process.checkFd(this.fd, this.file);
    if (!this.file.read) fail('EINVAL', `${this.file.kind} is not readable`);
    return this.file.read(count);
  }

  /** write(2): returns the bytes accepted. */
  write(bytes: Uint8Array): number {
    this.process.checkFd(this.fd, this.file);
    if (!this.file.write) fail('EINVAL', `${this.file.kind} is not writable`);
    return this.file.write(bytes);
  }

  /** POLLIN | POLLOUT bits ready now. */
  poll(): number {
    this.process.checkFd(this.fd, this.file);
    return this.file.poll?.() ?? 0;
  }

  /** Whether a read would return data, as it changes (eventfd-like). */
  get readable$(): Observable<boolean> {
    if (!this.file.readable$) fail('EINVAL', `${this.file.kind} has no readiness to observe`);
    return this.file.readable$;
  }

  /** close(2) of this fd. */
  close(): void {
    this.process.close(this.fd);
  }
}
