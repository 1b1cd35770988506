import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../../actors/mem/page.ts';
import { PhysAccessError, PhysMemory } from '../../../actors/mem/phys-memory.ts';
import { expectErrno } from './helpers.ts';

describe('PhysMemory', () => {
  it('hands out the lowest free pfn, starting above the base, never PA 0', () => {
    const pm = new PhysMemory();
    const a = pm.allocPage();
    const b = pm.allocPage();
    const c = pm.allocPage();
    expect([a, b, c]).toEqual([0x100n, 0x101n, 0x102n]);
    pm.put(b);
    pm.put(a);
    expect(pm.allocPage()).toBe(a);
    expect(pm.allocPage()).toBe(b);
    expect(pm.allocPage()).toBe(0x103n);
    expect(pm.isAllocated(0n)).toBe(false);
  });

  it('zero-fills, reads and writes little-endian across frame boundaries', () => {
    const pm = new PhysMemory();
    const pfn = pm.allocPage();
    pm.allocPage();
    const pa = pfn * 4096n;
    expect(pm.read(pa, 16)).toEqual(new Uint8Array(16));
    expect(pm.readU64(pa + 8n)).toBe(0n);
    pm.writeU64(pa + 8n, 0x1122_3344_5566_7788n);
    expect(pm.read(pa + 8n, 2)).toEqual(new Uint8Array([0x88, 0x77]));
    pm.writeU32(pa + 4094n, 0xdead_beef);
    expect(pm.readU32(pa + 4094n)).toBe(0xdead_beef);
    expect(pm.read(pa + 4094n, 4)).toEqual(new Uint8Array([0xef, 0xbe, 0xad, 0xde]));
    pm.writeU64(pa + 4092n, 0xffff_ffff_ffff_ffffn);
    expect(pm.readU64(pa + 4092n)).toBe(0xffff_ffff_ffff_ffffn);
    pm.write(pa + 4000n, new Uint8Array(200).fill(7));
    expect(pm.read(pa + 4000n, 200).every((b) => b === 7)).toBe(true);
  });

  it('throws PhysAccessError for unallocated frames; tryRead returns undefined', () => {
    const pm = new PhysMemory();
    const pfn = pm.allocPage();
    const pa = pfn * 4096n;
    expect(() => pm.read(pa + 4090n, 10)).toThrow(PhysAccessError);
    expect(pm.tryRead(pa + 4090n, 10)).toBeUndefined();
    expect(pm.tryRead(pa, 10)).toEqual(new Uint8Array(10));
    expect(() => pm.readU64(0n)).toThrow(PhysAccessError);
    // A write that runs off the end changes nothing.
    expect(() => pm.write(pa + 4095n, new Uint8Array([1, 2]))).toThrow(PhysAccessError);
    expect(pm.read(pa + 4095n, 1)).toEqual(new Uint8Array([0]));
  });

  it('discards a freed frame: reuse reads zero', () => {
    const pm = new PhysMemory();
    const pfn = pm.allocPage();
    pm.writeU32(pfn * 4096n, 42);
    pm.get(pfn);
    pm.put(pfn);
    expect(pm.refcount(pfn)).toBe(1);
    pm.put(pfn);
    expect(pm.isAllocated(pfn)).toBe(false);
    expect(pm.refcount(pfn)).toBe(0);
    expect(() => pm.readU32(pfn * 4096n)).toThrow(PhysAccessError);
    expect(pm.allocPage()).toBe(pfn);
    expect(pm.readU32(pfn * 4096n)).toBe(0);
    expect(pm.stats().allocatedFrames).toBe(1);
  });

  it('allocates aligned contiguous runs and reuses freed runs', () => {
    const pm = new PhysMemory();
    pm.allocPage();
    const huge = pm.allocContiguous(512, 512);
    expect(huge % 512n).toBe(0n);
    for (let i = 0n; i < 512n; i++) expect(pm.isAllocated(huge + i)).toBe(true);
    // The alignment gap is not leaked: single pages come from it.
    expect(pm.allocPage()).toBe(0x101n);
    for (let i = 0n; i < 512n; i++) pm.put(huge + i);
    expect(pm.allocContiguous(512, 512)).toBe(huge);
  });

  it('fails with ENOMEM beyond totalBytes and allocates nothing', () => {
    const pm = new PhysMemory({ totalBytes: BigInt(PAGE_SIZE * 4) });
    pm.allocPage();
    expectErrno(() => pm.allocContiguous(4, 4), 'ENOMEM');
    expect(pm.stats().allocatedFrames).toBe(1);
    pm.allocPage();
    pm.allocPage();
    pm.allocPage();
    expectErrno(() => pm.allocPage(), 'ENOMEM');
    expect(pm.snapshot()).toMatchObject({ allocatedFrames: 4, totalRefs: 4 });
  });

  it('treats refcount misuse as a simulator bug', () => {
    const pm = new PhysMemory();
    expect(() => pm.put(0x100n)).toThrow(/invariant/);
  });
});
