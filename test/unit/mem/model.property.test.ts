import { fc, test } from '@fast-check/vitest';
import { expect } from 'vitest';
import { IommufdError } from '../../../actors/iommufd/errno.ts';
import { AddressSpace, PROT_READ, PROT_WRITE } from '../../../actors/mem/address-space.ts';
import { FileTable } from '../../../actors/mem/file-table.ts';
import { MemFile } from '../../../actors/mem/memfd.ts';
import { HPAGE_SIZE_N } from '../../../actors/mem/page.ts';
import { PhysMemory } from '../../../actors/mem/phys-memory.ts';
import { expectBytes } from './helpers.ts';

const P = 4096;
const WINDOW = 0x1000_0000n;
const WINDOW_PAGES = 32;
const FILE_PAGES = 8;

/** A mapped page of the window: anonymous (lazily zero) or page `fileIndex` of the memfd. */
type ModelPage = { ro: boolean; anon?: Uint8Array; fileIndex?: number };

const op = fc.oneof(
  fc.record({
    t: fc.constant('mmap' as const),
    at: fc.nat(WINDOW_PAGES - 1),
    n: fc.integer({ min: 1, max: 8 }),
    file: fc.boolean(),
    foff: fc.nat(FILE_PAGES - 1),
    ro: fc.boolean(),
  }),
  fc.record({
    t: fc.constant('munmap' as const),
    at: fc.nat(WINDOW_PAGES - 1),
    n: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({
    t: fc.constant('write' as const),
    at: fc.nat(WINDOW_PAGES * P - 1),
    len: fc.integer({ min: 1, max: 6000 }),
    v: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    t: fc.constant('read' as const),
    at: fc.nat(WINDOW_PAGES * P - 1),
    len: fc.integer({ min: 1, max: 6000 }),
  }),
  fc.record({
    t: fc.constant('pin' as const),
    at: fc.nat(WINDOW_PAGES - 1),
    n: fc.integer({ min: 1, max: 8 }),
    write: fc.boolean(),
  }),
  fc.record({ t: fc.constant('unpin' as const), k: fc.nat() }),
  fc.record({ t: fc.constant('truncate' as const), size: fc.nat(FILE_PAGES * P) }),
  fc.record({ t: fc.constant('huge' as const), unmap: fc.boolean() }),
);

function errnoOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (IommufdError.is(err)) return err.errno;
    throw err;
  }
}

test.prop([fc.array(op, { maxLength: 60 })])(
  'mmap/munmap/read/write/pin agree with a byte model and never leak',
  (ops) => {
    const phys = new PhysMemory();
    const files = new FileTable();
    const mm = new AddressSpace(phys, { files });
    const inode = new MemFile(phys, { size: BigInt(FILE_PAGES * P) });
    const fd = files.install(inode.open());

    const pages = new Map<number, ModelPage>();
    // Distinct file contents make a mapping of the wrong file page visible.
    const fileBytes = new Uint8Array(FILE_PAGES * P).map((_, i) => (i * 7 + (i >> 12)) & 0xff);
    inode.write(0n, fileBytes);
    let fileSize = FILE_PAGES * P;
    const pins: bigint[][] = [];
    const huge: bigint[] = [];

    /** The bytes behind a model page, or undefined if an access there faults. */
    const backing = (page: number, write: boolean): Uint8Array | undefined => {
      const m = pages.get(page);
      if (!m || (write && m.ro)) return undefined;
      if (m.fileIndex === undefined) return (m.anon ??= new Uint8Array(P));
      if (m.fileIndex >= Math.ceil(fileSize / P)) return undefined;
      return fileBytes.subarray(m.fileIndex * P, (m.fileIndex + 1) * P);
    };
    const accessible = (first: number, last: number, write: boolean) => {
      for (let p = first; p <= last; p++) if (p >= WINDOW_PAGES || !backing(p, write)) return false;
      return true;
    };

    for (const o of ops) {
      switch (o.t) {
        case 'mmap': {
          const n = Math.min(o.n, WINDOW_PAGES - o.at);
          const prot = o.ro ? PROT_READ : PROT_READ | PROT_WRITE;
          const va = WINDOW + BigInt(o.at * P);
          const opts = o.file ? { fd, offset: BigInt(o.foff * P), fixed: va, prot } : { fixed: va, prot };
          expect(mm.mmap(n * P, opts)).toBe(va);
          for (let i = 0; i < n; i++)
            pages.set(o.at + i, o.file ? { ro: o.ro, fileIndex: o.foff + i } : { ro: o.ro });
          break;
        }
        case 'munmap':
          mm.munmap(WINDOW + BigInt(o.at * P), o.n * P);
          for (let i = o.at; i < o.at + o.n; i++) pages.delete(i);
          break;
        case 'write': {
          const len = Math.min(o.len, WINDOW_PAGES * P - o.at);
          const bytes = new Uint8Array(len).map((_, i) => (o.v + i) & 0xff);
          const ok = accessible(Math.floor(o.at / P), Math.floor((o.at + len - 1) / P), true);
          expect(errnoOf(() => mm.write(WINDOW + BigInt(o.at), bytes))).toBe(ok ? undefined : 'EFAULT');
          if (ok)
            for (let i = 0; i < len; i++)
              backing(Math.floor((o.at + i) / P), true)![(o.at + i) % P] = bytes[i]!;
          break;
        }
        case 'read': {
          const len = Math.min(o.len, WINDOW_PAGES * P - o.at);
          const ok = accessible(Math.floor(o.at / P), Math.floor((o.at + len - 1) / P), false);
          let got: Uint8Array | undefined;
          expect(errnoOf(() => (got = mm.read(WINDOW + BigInt(o.at), len)))).toBe(ok ? undefined : 'EFAULT');
          if (ok) {
            const want = new Uint8Array(len);
            for (let i = 0; i < len; i++)
              want[i] = backing(Math.floor((o.at + i) / P), false)![(o.at + i) % P]!;
            expectBytes(got, want);
          }
          break;
        }
        case 'pin': {
          const ok = accessible(o.at, o.at + o.n - 1, o.write);
          let frames: bigint[] = [];
          expect(errnoOf(() => (frames = mm.pinPages(WINDOW + BigInt(o.at * P), o.n, o.write)))).toBe(
            ok ? undefined : 'EFAULT',
          );
          if (ok) pins.push(frames);
          break;
        }
        case 'unpin':
          if (pins.length > 0) mm.unpinPages(pins.splice(o.k % pins.length, 1)[0]!);
          break;
        case 'truncate':
          files.get(fd).truncate!(BigInt(o.size));
          if (o.size < fileSize) fileBytes.fill(0, o.size);
          fileSize = o.size;
          break;
        case 'huge':
          if (o.unmap && huge.length > 0) mm.munmap(huge.pop()!, HPAGE_SIZE_N);
          else huge.push(mm.mmap(HPAGE_SIZE_N, { hugetlb: true }));
          break;
      }
      // Every frame reference is a PTE, a pin, or the file's own.
      const pinned = pins.reduce((s, f) => s + f.length, 0);
      expect(phys.snapshot().totalRefs).toBe(mm.residentPages + pinned + inode.residentPages);
    }

    // A final sweep: every window page agrees, whether or not the ops happened to look at it.
    for (let p = 0; p < WINDOW_PAGES; p++) {
      let got: Uint8Array | undefined;
      const want = backing(p, false);
      expect(errnoOf(() => (got = mm.read(WINDOW + BigInt(p * P), P)))).toBe(want ? undefined : 'EFAULT');
      if (want) expectBytes(got, want);
    }
    // The file's contents through the file API agree with the model too.
    expectBytes(inode.read(0n, fileSize), fileBytes.subarray(0, fileSize));
    for (const f of pins) mm.unpinPages(f);
    mm.unmapAll();
    files.closeAll();
    expect(mm.vmas()).toHaveLength(0);
    expect(phys.stats().allocatedFrames).toBe(0);
  },
);
