import { describe, expect, it } from 'vitest';
import { AddressSpace, PROT_NONE, PROT_READ } from '../../../actors/mem/address-space.ts';
import { FileTable, type MmapBacking, type MmapRequest } from '../../../actors/mem/file-table.ts';
import { HPAGE_SIZE_N } from '../../../actors/mem/page.ts';
import { PhysMemory } from '../../../actors/mem/phys-memory.ts';
import { expectErrno } from './helpers.ts';

const P = 4096n;

function setup() {
  const phys = new PhysMemory();
  return { phys, mm: new AddressSpace(phys) };
}

describe('AddressSpace', () => {
  it('allocates VAs top-down, deterministically, honouring align', () => {
    const { mm } = setup();
    const a = mm.mmap(100);
    expect(a).toBe(mm.mmapBase - P);
    const b = mm.mmap(16n * P, { align: HPAGE_SIZE_N });
    expect(b % HPAGE_SIZE_N).toBe(0n);
    expect(b + 16n * P).toBeLessThanOrEqual(a);
    expect(setup().mm.mmap(100)).toBe(a);
  });

  it('populates anonymous memory lazily, on first touch', () => {
    const { phys, mm } = setup();
    const va = mm.mmap(1n << 30n);
    expect(phys.stats().allocatedFrames).toBe(0);
    expect(mm.lookupFrame(va + 5n * P)).toBeUndefined();
    expect(mm.read(va + 5n * P + 10n, 4)).toEqual(new Uint8Array(4));
    expect(phys.stats().allocatedFrames).toBe(1);
    mm.write(va + 2n * P - 2n, new Uint8Array([1, 2, 3, 4]));
    expect(phys.stats().allocatedFrames).toBe(3);
    expect(mm.read(va + 2n * P - 2n, 4)).toEqual(new Uint8Array([1, 2, 3, 4]));
    mm.munmap(va, 1n << 30n);
    expect(phys.stats().allocatedFrames).toBe(0);
    expect(mm.vmas()).toHaveLength(0);
  });

  it('gives EFAULT for unmapped VAs and for stores to read-only or loads from PROT_NONE', () => {
    const { mm } = setup();
    const ro = mm.mmap(P, { prot: PROT_READ });
    expect(mm.read(ro, 8)).toEqual(new Uint8Array(8));
    expectErrno(() => mm.write(ro, new Uint8Array(1)), 'EFAULT');
    const none = mm.mmap(P, { prot: PROT_NONE });
    expectErrno(() => mm.read(none, 1), 'EFAULT');
    expectErrno(() => mm.read(0x1000n, 1), 'EFAULT');
    // A store crossing into an unmapped page writes nothing.
    const rw = mm.mmap(P, { fixed: 0x4000_0000n });
    expectErrno(() => mm.write(rw + P - 1n, new Uint8Array([9, 9])), 'EFAULT');
    expect(mm.read(rw + P - 1n, 1)).toEqual(new Uint8Array([0]));
  });

  it('validates mmap and munmap arguments', () => {
    const { mm } = setup();
    expectErrno(() => mm.mmap(0), 'EINVAL');
    expectErrno(() => mm.mmap(P, { prot: 8 }), 'EINVAL');
    expectErrno(() => mm.mmap(P, { offset: 1n }), 'EINVAL');
    expectErrno(() => mm.mmap(P, { align: 3n * P }), 'EINVAL');
    expectErrno(() => mm.mmap(P, { fixed: 0x1001n }), 'EINVAL');
    expectErrno(() => mm.mmap(P, { fd: 3 }), 'EBADF');
    expectErrno(() => mm.munmap(0x1001n, P), 'EINVAL');
    expectErrno(() => mm.munmap(0x1000n, 0n), 'EINVAL');
    mm.munmap(0x1000n, P); // unmapping a hole is fine
  });

  it('splits VMAs on partial munmap', () => {
    const { phys, mm } = setup();
    const va = mm.mmap(8n * P);
    for (let i = 0n; i < 8n; i++) mm.write(va + i * P, new Uint8Array([Number(i) + 1]));
    mm.munmap(va + 2n * P, 3n * P);
    expect(mm.vmas().map((v) => [v.start - va, v.end - va])).toEqual([
      [0n, 2n * P],
      [5n * P, 8n * P],
    ]);
    expect(phys.stats().allocatedFrames).toBe(5);
    expect(mm.read(va + P, 1)).toEqual(new Uint8Array([2]));
    expect(mm.read(va + 5n * P, 1)).toEqual(new Uint8Array([6]));
    expectErrno(() => mm.read(va + 2n * P, 1), 'EFAULT');
    mm.munmap(va, P);
    expect(mm.vmaAt(va + P)?.start).toBe(va + P);
    mm.munmap(va, 8n * P);
    expect(mm.vmas()).toHaveLength(0);
    expect(phys.stats().allocatedFrames).toBe(0);
  });

  it('MAP_FIXED replaces what was mapped', () => {
    const { phys, mm } = setup();
    const va = mm.mmap(4n * P);
    mm.write(va + P, new Uint8Array([7]));
    expect(mm.mmap(P, { fixed: va + P })).toBe(va + P);
    expect(mm.read(va + P, 1)).toEqual(new Uint8Array([0]));
    expect(mm.vmas()).toHaveLength(3);
    expect(phys.stats().allocatedFrames).toBe(1);
  });

  it('backs hugetlb with aligned, physically contiguous 2 MiB pages at mmap time', () => {
    const { phys, mm } = setup();
    mm.mmap(P); // perturb the VA layout
    phys.allocPage(); // and the physical one
    const va = mm.mmap(3n << 20n, { hugetlb: true });
    expect(va % HPAGE_SIZE_N).toBe(0n);
    expect(mm.vmaAt(va)).toMatchObject({ hugetlb: true, end: va + (4n << 20n) });
    expect(phys.stats().allocatedFrames).toBe(1 + 1024);
    for (const huge of [0n, 1n]) {
      const head = mm.lookupFrame(va + huge * HPAGE_SIZE_N)!;
      expect(head % 512n).toBe(0n);
      for (let i = 0n; i < 512n; i++) expect(mm.lookupFrame(va + huge * HPAGE_SIZE_N + i * P)).toBe(head + i);
    }
    expectErrno(() => mm.munmap(va + P, P), 'EINVAL');
    mm.munmap(va + HPAGE_SIZE_N, HPAGE_SIZE_N);
    expect(phys.stats().allocatedFrames).toBe(1 + 512);
  });

  it('pin keeps a frame alive after munmap', () => {
    const { phys, mm } = setup();
    const va = mm.mmap(4n * P);
    mm.write(va + P, new Uint8Array([0xab]));
    const frames = mm.pinPages(va, 4, true);
    expect(frames).toHaveLength(4);
    expect(frames[1]).toBe(mm.lookupFrame(va + P));
    expect(phys.refcount(frames[1]!)).toBe(2);
    mm.munmap(va, 4n * P);
    expect(phys.stats().allocatedFrames).toBe(4);
    expect(phys.read(frames[1]! * P, 1)).toEqual(new Uint8Array([0xab]));
    mm.unpinPages(frames);
    expect(phys.stats().allocatedFrames).toBe(0);
  });

  it('pins all or nothing: EFAULT for holes and for write pins of read-only memory', () => {
    const { phys, mm } = setup();
    const va = mm.mmap(4n * P);
    mm.munmap(va + 2n * P, P);
    expectErrno(() => mm.pinPages(va, 4, false), 'EFAULT');
    expect(phys.snapshot().totalRefs).toBe(phys.stats().allocatedFrames);
    const ro = mm.mmap(P, { prot: PROT_READ });
    expectErrno(() => mm.pinPages(ro, 1, true), 'EFAULT');
    expect(mm.pinPages(ro, 1, false)).toHaveLength(1);
    const none = mm.mmap(P, { prot: PROT_NONE });
    expectErrno(() => mm.pinPages(none, 1, false), 'EFAULT');
    // Half unmapped, then fully unmapped: as the selftest's mock_domain.basic.
    const buf = mm.mmap(4n * P);
    mm.munmap(buf + 2n * P, 2n * P);
    expectErrno(() => mm.pinPages(buf, 4, false), 'EFAULT');
    mm.munmap(buf, 2n * P);
    expectErrno(() => mm.pinPages(buf, 4, false), 'EFAULT');
  });

  it('rolls back a pin that runs out of memory', () => {
    const phys = new PhysMemory({ totalBytes: 3n * P });
    const mm = new AddressSpace(phys);
    const va = mm.mmap(4n * P);
    expectErrno(() => mm.pinPages(va, 4, true), 'ENOMEM');
    expect(phys.snapshot().totalRefs).toBe(3); // faulted in, mapped, but not pinned
    mm.unmapAll();
    expect(phys.stats().allocatedFrames).toBe(0);
  });

  it('maps raw pfns (VM_PFNMAP) without refcounting, never pinnable, attached once per VMA', () => {
    const phys = new PhysMemory();
    const files = new FileTable();
    const mm = new AddressSpace(phys, { files });
    const mmio = phys.allocContiguous(2, 1);
    phys.writeU32(mmio * P, 0xfeed);
    const log: string[] = [];
    const requests: MmapRequest[] = [];
    const backing: MmapBacking = {
      pfnmap: true,
      frameAt: (i) => mmio + i,
      attach: () => log.push('attach'),
      detach: () => log.push('detach'),
    };
    const fd = files.install({
      kind: 'viommu-region',
      release: () => {},
      mmap: (req) => {
        requests.push(req);
        return backing;
      },
    });
    expectErrno(() => mm.mmap(P, { fd: files.install({ kind: 'plain', release: () => {} }) }), 'ENODEV');
    const va = mm.mmap(3n * P, { fd, shared: true });
    expect(requests).toEqual([{ offset: 0n, length: 3n * P, prot: 3, shared: true }]);
    expect(mm.read(va, 4)).toEqual(new Uint8Array([0xed, 0xfe, 0, 0]));
    expect(phys.refcount(mmio)).toBe(1);
    expectErrno(() => mm.pinPages(va, 1, false), 'EFAULT');
    mm.munmap(va + P, P); // split: the new half attaches, then each half detaches once
    mm.munmap(va, 3n * P);
    expect(log).toEqual(['attach', 'attach', 'detach', 'detach']);
    expect(phys.refcount(mmio)).toBe(1);
  });
});
