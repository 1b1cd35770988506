/**
 * Bad options at every builder entry point throw FarmOptionError naming the call, the option and
 * what it must be, and build nothing; `dma()` rejects with it.
 */
import { describe, expect, test } from 'vitest';
import { createFarm, FarmOptionError } from '../../../index.ts';
import { Coverage, checkProperty, formatCoverage, INVARIANTS, runMatrix } from '../../../props/index.ts';

function rejectsWith(call: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    call();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(FarmOptionError);
  expect(thrown).toBeInstanceOf(TypeError);
  expect((thrown as Error).message).toMatch(message);
}

const bad = <T>(v: unknown) => v as T;

describe('createFarm', () => {
  test('seed: an integer in 0..2^32-1; autoRun: a boolean; nothing else', () => {
    rejectsWith(
      () => createFarm({ seed: 1.5 }),
      /createFarm: option 'seed' must be an integer in 0\.\.4294967295, got 1\.5/,
    );
    rejectsWith(() => createFarm({ seed: -1 }), /'seed'.*got -1 \(number\)/);
    rejectsWith(() => createFarm({ seed: 2 ** 32 }), /'seed'/);
    rejectsWith(() => createFarm({ seed: bad<number>(7n) }), /'seed'.*got 7n \(bigint\)/);
    rejectsWith(() => createFarm({ autoRun: bad<boolean>('no') }), /'autoRun' must be a boolean/);
    rejectsWith(
      () => createFarm(bad({ sed: 4 })),
      /option 'sed' must be one of the known options \(seed, autoRun\)/,
    );
    expect(createFarm({ seed: 0xffffffff }).seed).toBe(0xffffffff);
  });
});

describe('farm.addHost and the host builders', () => {
  const farm = () => createFarm({ seed: 1 });

  test('addHost: a name, a boolean selftest, a bigint memory size', () => {
    const f = farm();
    rejectsWith(() => f.addHost(bad({})), /farm\.addHost: option 'name' must be given/);
    rejectsWith(() => f.addHost({ name: '' }), /'name' must be a non-empty string/);
    rejectsWith(
      () => f.addHost({ name: 'h', memoryBytes: bad<bigint>(1 << 30) }),
      /'memoryBytes' must be a bigint/,
    );
    rejectsWith(
      () => f.addHost(bad({ name: 'h', selfTest: true })),
      /'selfTest' must be one of the known options/,
    );
    expect(f.hosts()).toEqual([]);
  });

  test('addIommu: a known vendor, and only that vendor’s options', () => {
    const h = farm().addHost({ name: 'h0' });
    rejectsWith(
      () => h.addIommu({ name: 'x', vendor: bad('intel') }),
      /h0\.addIommu: option 'vendor' must be one of 'mock', 'intel-vtd', 'arm-smmuv3', 'amd-vi', 'power-tce', got 'intel'/,
    );
    rejectsWith(
      () => h.addIommu({ name: 'x', vendor: 'mock', iotlbEntries: 4 }),
      /'iotlbEntries' must be one of the known options \(name, vendor\)/,
    );
    rejectsWith(
      () => h.addIommu({ name: 'x', vendor: 'arm-smmuv3', iotlbEntries: 4 }),
      /'iotlbEntries'.*iotlbCapacity/,
    );
    rejectsWith(
      () => h.addIommu({ name: 'x', vendor: 'intel-vtd', pasidBits: 21 }),
      /'pasidBits' must be an integer in 0\.\.20, got 21/,
    );
    rejectsWith(
      () => h.addIommu({ name: 'x', vendor: 'amd-vi', pgtable: 'v3' }),
      /'pgtable' must be one of 'v1', 'v2'/,
    );
    rejectsWith(() => h.addIommu(bad(null)), /h0\.addIommu: option 'options' must be an object, got null/);
    expect(h.iommus()).toEqual([]);
    expect(h.addIommu({ name: 'x', vendor: 'intel-vtd', pasidBits: 20 }).vendor).toBe('intel-vtd');
  });

  test('addDevice: PASID width 0..20, a PCI address, booleans', () => {
    const h = farm().addHost({ name: 'h0' });
    h.addIommu({ name: 'm', vendor: 'mock' });
    rejectsWith(
      () => h.addDevice({ name: 'd', iommu: 'm', pasidBits: 21 }),
      /h0\.addDevice: option 'pasidBits' must be an integer in 0\.\.20, got 21/,
    );
    rejectsWith(() => h.addDevice({ name: 'd', iommu: 'm', pasidBits: -1 }), /'pasidBits'/);
    rejectsWith(() => h.addDevice({ name: 'd', iommu: 'm', bdf: '01:00.0' }), /'bdf' must be a PCI address/);
    rejectsWith(
      () => h.addDevice({ name: 'd', iommu: 'm', ats: bad<boolean>(1) }),
      /'ats' must be a boolean, got 1/,
    );
    rejectsWith(() => h.addDevice(bad({ name: 'd' })), /'iommu' must be given/);
    rejectsWith(
      () => h.addDevice(bad({ name: 'd', iommu: 'm', pasid: 5 })),
      /'pasid' must be one of the known options/,
    );
    expect(h.devices()).toEqual([]);
  });

  test('spawnProcess: a bigint memlock limit, a uid in range', () => {
    const h = farm().addHost({ name: 'h0' });
    rejectsWith(
      () => h.spawnProcess({ name: 'p', memlockLimit: bad<bigint>(4096) }),
      /h0\.spawnProcess: option 'memlockLimit' must be a bigint byte count/,
    );
    rejectsWith(() => h.spawnProcess({ name: 'p', memlockLimit: -1n }), /'memlockLimit'.*got -1n/);
    rejectsWith(
      () => h.spawnProcess({ name: 'p', uid: 0xffffffff }),
      /'uid' must be an integer in 0\.\.4294967294/,
    );
    rejectsWith(() => h.spawnProcess(bad({ name: 'p', priviledged: true })), /'priviledged'/);
  });
});

describe('device.dma', () => {
  const device = () => {
    const h = createFarm({ seed: 1 }).addHost({ name: 'h0' });
    h.addIommu({ name: 'm', vendor: 'mock' });
    return h.addDevice({ name: 'nic0', iommu: 'm', pasidBits: 8 });
  };
  const req = (r: object) => r as Parameters<ReturnType<typeof device>['dma']>[0];

  test.each([
    [{ op: 'read', iova: 4096, length: 4 }, /nic0\.dma: option 'iova' must be a bigint, got 4096 \(number\)/],
    [{ op: 'read', iova: -1n, length: 4 }, /'iova' must be a 64-bit IOVA/],
    [{ op: 'read', iova: 1n << 64n, length: 4 }, /'iova' must be a 64-bit IOVA/],
    [{ op: 'copy', iova: 0n, length: 4 }, /'op' must be 'read' or 'write'/],
    [{ op: 'read', iova: 0n, length: -4 }, /'length' must be an integer byte count/],
    [{ op: 'read', iova: 0n, length: 1.5 }, /'length'/],
    [
      { op: 'read', iova: 0n, length: 4, pasid: 256 },
      /'pasid' must be an integer in 0\.\.255 \(PASID width 8\)/,
    ],
    [
      { op: 'write', iova: 0n, length: 4, data: new Uint8Array(3) },
      /'data' must be a Uint8Array of length 4/,
    ],
    [{ op: 'read', iova: 0n, length: 4, data: new Uint8Array(4) }, /'data' must be absent for op 'read'/],
    [{ op: 'read', iova: 0n, length: 4, pasId: 1 }, /'pasId'/],
  ])('%o is refused', async (r, message) => {
    const dev = device();
    const p = dev.dma(req(r));
    await expect(p).rejects.toBeInstanceOf(FarmOptionError);
    await expect(p).rejects.toThrow(message);
    expect(dev.farm.scheduler.busy).toBe(false);
  });

  test('a device without PASID capability takes no pasid', async () => {
    const h = createFarm({ seed: 1 }).addHost({ name: 'h0' });
    h.addIommu({ name: 'm', vendor: 'mock' });
    const dev = h.addDevice({ name: 'd0', iommu: 'm' });
    await expect(dev.dma({ op: 'read', iova: 0n, length: 4, pasid: 1 })).rejects.toThrow(
      /no PASID capability/,
    );
  });
});

describe('the props runners', () => {
  const base = { invariants: [INVARIANTS.isolation], vendors: ['mock'] as const };

  test('checkProperty: unknown vendor, bad run count or seed, unknown key, bad nested option', async () => {
    await expect(checkProperty({ ...base, vendors: [bad('amd')] })).rejects.toThrow(
      /checkProperty: option 'vendors'/,
    );
    await expect(checkProperty({ ...base, numRuns: 0 })).rejects.toThrow(
      /'numRuns' must be an integer in 1\.\./,
    );
    await expect(checkProperty({ ...base, seed: 0.5 })).rejects.toThrow(/'seed'/);
    await expect(checkProperty(bad({ ...base, numruns: 5 }))).rejects.toThrow(/'numruns'/);
    await expect(checkProperty({ ...base, topology: { maxHosts: 0 } })).rejects.toThrow(
      /checkProperty\.topology: option 'maxHosts'/,
    );
    await expect(checkProperty({ ...base, commands: { weights: { mapp: 1 } as never } })).rejects.toThrow(
      /checkProperty\.commands\.weights: option 'mapp'/,
    );
    await expect(checkProperty({ ...base, fixture: bad('full') })).rejects.toBeInstanceOf(FarmOptionError);
  });

  test('runMatrix: unknown property or fault, missing seed', async () => {
    const m = { properties: ['isolation'] as const, vendors: ['mock'] as const, numRuns: 1, seed: 1 };
    await expect(runMatrix({ ...m, properties: [bad('isolaton')] })).rejects.toThrow(
      /runMatrix: option 'properties'/,
    );
    await expect(runMatrix({ ...m, faults: [bad('skipInvalidation')] })).rejects.toThrow(/'faults'/);
    await expect(runMatrix(bad({ ...m, seed: undefined }))).rejects.toThrow(/'seed' must be given/);
  });

  test('runMatrix takes a Coverage collector and fills it; anything else is refused', async () => {
    const m = { properties: ['isolation'] as const, vendors: ['mock'] as const, numRuns: 2, seed: 1 };
    const coverage = new Coverage();
    const [cell] = await runMatrix({ ...m, coverage });
    expect(cell?.verdict).toBe('pass');
    expect(formatCoverage(coverage, ['mock'])).toMatch(/dma/);
    await expect(runMatrix({ ...m, coverage: bad({}) })).rejects.toThrow(/runMatrix: option 'coverage'/);
  });
});
