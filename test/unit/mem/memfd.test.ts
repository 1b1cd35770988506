import { describe, expect, it } from 'vitest';
import { AddressSpace } from '../../../actors/mem/address-space.ts';
import { FileTable } from '../../../actors/mem/file-table.ts';
import { MemFile } from '../../../actors/mem/memfd.ts';
import { HPAGE_SIZE_N } from '../../../actors/mem/page.ts';
import { PhysMemory } from '../../../actors/mem/phys-memory.ts';
import { expectErrno } from './helpers.ts';

const P = 4096n;

function setup(size: bigint, hugetlb = false) {
  const phys = new PhysMemory();
  const files = new FileTable();
  const mm = new AddressSpace(phys, { files });
  const inode = new MemFile(phys, { size, hugetlb });
  const fd = files.install(inode.open());
  return { phys, files, mm, inode, fd };
}

describe('MemFile', () => {
  it('shares pages between the file and its mapping', () => {
    const { phys, mm, inode, fd } = setup(4n * P);
    expect(phys.stats().allocatedFrames).toBe(0);
    inode.write(P + 10n, new Uint8Array([1, 2, 3]));
    const va = mm.mmap(4n * P, { fd });
    expect(mm.vmaAt(va)).toMatchObject({ shared: true, fd });
    expect(mm.read(va + P + 10n, 3)).toEqual(new Uint8Array([1, 2, 3]));
    mm.write(va + 3n * P, new Uint8Array([9]));
    expect(inode.read(3n * P, 1)).toEqual(new Uint8Array([9]));
    expect(mm.lookupFrame(va + 3n * P)).toBe(inode.lookup(3n));
    // A mapping at an offset sees the file from there.
    expectErrno(() => mm.mmap(P, { fd, hugetlb: true }), 'EINVAL');
    const va2 = mm.mmap(P, { fd, offset: 3n * P });
    expect(mm.read(va2, 1)).toEqual(new Uint8Array([9]));
  });

  it('reads short at EOF, extends on write, and keeps its pages until the last reference goes', () => {
    const { phys, files, mm, inode, fd } = setup(P);
    expect(inode.read(P - 2n, 10)).toHaveLength(2);
    inode.write(2n * P, new Uint8Array([5]));
    expect(inode.size).toBe(2n * P + 1n);
    const va = mm.mmap(3n * P, { fd });
    mm.read(va, 1);
    files.close(fd);
    expect(mm.read(va + 2n * P, 1)).toEqual(new Uint8Array([5]));
    expect(phys.stats().allocatedFrames).toBe(2);
    mm.munmap(va, P); // one half of the VMA goes; the file is still mapped
    expect(phys.stats().allocatedFrames).toBe(2);
    mm.munmap(va, 3n * P);
    expect(phys.stats().allocatedFrames).toBe(0);
  });

  it('truncate: shrinking zaps mappings and frees pages, pinned pages survive, regrowth reads zero', () => {
    const { phys, mm, inode, fd } = setup(4n * P);
    const va = mm.mmap(4n * P, { fd });
    for (let i = 0n; i < 4n; i++) mm.write(va + i * P, new Uint8Array(4096).fill(Number(i) + 1));
    const pinned = inode.pinRange(3n * P, P);
    inode.truncate(P + 100n);
    expect(mm.lookupFrame(va + 2n * P)).toBeUndefined();
    expectErrno(() => mm.read(va + 2n * P, 1), 'EFAULT'); // SIGBUS past EOF
    expect(phys.isAllocated(pinned[0]!)).toBe(true);
    expect(phys.read(pinned[0]! * P, 1)).toEqual(new Uint8Array([4]));
    expect(phys.stats().allocatedFrames).toBe(3);
    inode.unpin(pinned);
    expect(phys.stats().allocatedFrames).toBe(2);
    inode.truncate(4n * P);
    expect(mm.read(va + P + 99n, 2)).toEqual(new Uint8Array([2, 0]));
    expect(mm.read(va + 3n * P, 1)).toEqual(new Uint8Array([0]));
  });

  it('pinRange is EINVAL past EOF or when empty, and all or nothing', () => {
    const { phys, inode } = setup(2n * P);
    expectErrno(() => inode.pinRange(0n, 2n * P + 1n), 'EINVAL');
    expectErrno(() => inode.pinRange(0n, 0n), 'EINVAL');
    inode.truncate(0n);
    expectErrno(() => inode.pinRange(0n, P), 'EINVAL');
    expect(phys.stats().allocatedFrames).toBe(0);
    inode.truncate(3n * P);
    const frames = inode.pinRange(100n, P);
    expect(frames).toHaveLength(2);
    inode.unpin(frames);
  });

  it('hugetlb memfd: contiguous, aligned, huge-granular', () => {
    const { phys, mm, inode, fd } = setup(2n * HPAGE_SIZE_N, true);
    expectErrno(() => inode.truncate(HPAGE_SIZE_N + P), 'EINVAL');
    expectErrno(() => mm.mmap(P, { fd, offset: P }), 'EINVAL');
    const va = mm.mmap(P, { fd, offset: HPAGE_SIZE_N });
    expect(va % HPAGE_SIZE_N).toBe(0n);
    expect(mm.vmaAt(va)).toMatchObject({ hugetlb: true, end: va + HPAGE_SIZE_N });
    mm.write(va + 5n * P, new Uint8Array([1]));
    const head = inode.lookup(512n)!;
    expect(head % 512n).toBe(0n);
    expect(inode.lookup(512n + 511n)).toBe(head + 511n);
    expect(inode.read(HPAGE_SIZE_N + 5n * P, 1)).toEqual(new Uint8Array([1]));
    expect(phys.stats().allocatedFrames).toBe(512);
    inode.truncate(HPAGE_SIZE_N);
    expect(phys.stats().allocatedFrames).toBe(0);
  });

  it('the memfd open file reads and writes at its position and truncates', () => {
    const { files, inode, fd } = setup(0n);
    const f = files.get(fd);
    expect(f.kind).toBe('memfd');
    expect(f.write?.(new Uint8Array([1, 2, 3]))).toBe(3);
    f.truncate?.(2n);
    expect(inode.read(0n, 10)).toEqual(new Uint8Array([1, 2]));
    expect(f.read?.(10)).toEqual(new Uint8Array([]));
  });
});
