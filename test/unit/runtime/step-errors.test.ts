/**
 * No throw inside a scheduled step escapes the scheduler: it rejects the promise of the caller
 * that scheduled the step, or the next `settle()`, and the scheduler keeps going. A manual-mode
 * farm that nobody steps rejects an awaited call instead of hanging.
 */
import { describe, expect, test } from 'vitest';
import { createFarm, type Farm, FarmOptionError, FarmStalledError } from '../../../index.ts';

function farmWithDevice(autoRun = true) {
  const farm = createFarm({ seed: 3, autoRun });
  const host = farm.addHost({ name: 'h0' });
  host.addIommu({ name: 'mock0', vendor: 'mock' });
  const dev = host.addDevice({ name: 'nic0', iommu: 'mock0' });
  return { farm, host, dev };
}

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('throws inside scheduled steps', () => {
  test('a throw in a request rejects that request; the scheduler keeps serving the next one', async () => {
    const { farm } = farmWithDevice();
    const s = farm.scheduler;
    const failing = s.request('a->b', 'boom', 10, () => {
      throw new RangeError('inside the step');
    });
    const fine = s.request('a->b', 'ok', 20, () => 42);
    await expect(failing).rejects.toThrow(/inside the step/);
    await expect(fine).resolves.toBe(42);
    await expect(farm.settle()).resolves.toBeUndefined();
    expect(s.takeUncaught()).toEqual([]);
  });

  test('a throw in a step nobody awaits rejects the next settle() once, then the farm is clean', async () => {
    const { farm } = farmWithDevice();
    const ran: number[] = [];
    farm.scheduler.post('x->y', 'orphan', () => {
      throw new Error('orphan step');
    });
    farm.scheduler.setTimer(100, () => ran.push(farm.now));
    await expect(farm.settle()).rejects.toThrow(/orphan step/);
    expect(ran).toEqual([100]);
    await expect(farm.settle()).resolves.toBeUndefined();
  });

  test('a throw while a DMA executes rejects the DMA, and the next DMA still runs', async () => {
    const { dev } = farmWithDevice();
    const hw = dev.kdev.iommu.hw;
    const translate = hw.translate;
    hw.translate = () => {
      throw new Error('translation blew up');
    };
    await expect(dev.dma({ op: 'read', iova: 0x1000n, length: 4 })).rejects.toThrow(/blew up/);
    hw.translate = translate;
    const after = await dev.dma({ op: 'read', iova: 0x1000n, length: 4 });
    expect(after.ok).toBe(false); // blocked: nothing is attached, but it completed
  });

  test('a number IOVA rejects with FarmOptionError instead of killing the process', async () => {
    const { dev, farm } = farmWithDevice();
    const p = dev.dma({ op: 'read', iova: 4096 as unknown as bigint, length: 4 });
    await expect(p).rejects.toBeInstanceOf(FarmOptionError);
    await expect(p).rejects.toThrow(/nic0\.dma: option 'iova' must be a bigint, got 4096 \(number\)/);
    expect(farm.scheduler.busy).toBe(false);
  });
});

describe('a manual-mode farm nobody steps', () => {
  async function outcome(p: Promise<unknown>): Promise<unknown> {
    try {
      return await p;
    } catch (err) {
      return err;
    }
  }

  test('an awaited DMA rejects with FarmStalledError naming the call', async () => {
    const { dev } = farmWithDevice(false);
    const err = await outcome(dev.dma({ op: 'read', iova: 0x1000n, length: 4 }));
    expect(err).toBeInstanceOf(FarmStalledError);
    expect((err as Error).message).toMatch(/nic0\.dma\(read\) is awaited.*autoRun: false.*farm\.step\(\)/);
  });

  test('an awaited typed ioctl that waits on nothing completes without stepping', async () => {
    const { host } = farmWithDevice(false);
    const proc = host.spawnProcess({ name: 'p' });
    const fd = proc.openIommufd();
    await expect(fd.ioctl('IOMMU_IOAS_ALLOC', {})).resolves.toMatchObject({ out_ioas_id: 1 });
  });

  test('an awaited typed ioctl that needs the hardware (an unmap waiting on the VT-d queue) rejects as stalled', async () => {
    const farm = createFarm({ seed: 3, autoRun: false });
    const host = farm.addHost({ name: 'h0' });
    host.addIommu({ name: 'vtd0', vendor: 'intel-vtd' });
    host.addDevice({ name: 'nic0', iommu: 'vtd0', bdf: '0000:01:00.0' });
    const proc = host.spawnProcess({ name: 'p' });
    const fd = proc.openIommufd();
    const driven = async <T>(call: Promise<T>): Promise<T> => (await Promise.all([call, farm.settle()]))[0];
    const { out_ioas_id } = await driven(fd.ioctl('IOMMU_IOAS_ALLOC', {}));
    const vdev = proc.openVfioDevice('nic0');
    await driven(vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd }));
    await driven(vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: out_ioas_id }));
    const buf = proc.mmap(4096n);
    const { iova } = await driven(
      fd.ioctl('IOMMU_IOAS_MAP', { flags: 3, ioas_id: out_ioas_id, user_va: buf, length: 4096n }),
    );
    const err = await outcome(fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: out_ioas_id, iova, length: 4096n }));
    expect(err).toBeInstanceOf(FarmStalledError);
    expect((err as Error).message).toMatch(/IOMMU_IOAS_UNMAP/);
  });

  test('the same DMA completes when the caller settles, steps, or awaits it together with settle()', async () => {
    const { farm, dev } = farmWithDevice(false);
    const [a] = await Promise.all([dev.dma({ op: 'read', iova: 0x1000n, length: 4 }), farm.settle()]);
    expect(a).toMatchObject({ ok: false });

    const b = dev.dma({ op: 'read', iova: 0x1000n, length: 4 });
    while (farm.step()) {}
    expect(await b).toMatchObject({ ok: false });

    // Stepping by hand with a macrotask between steps keeps the call alive.
    const c = dev.dma({ op: 'read', iova: 0x1000n, length: 4 });
    const seen = outcome(c);
    for (let i = 0; i < 3; i++) {
      await macrotask();
      farm.step();
    }
    expect(await seen).toMatchObject({ ok: false });
  });

  test('a call nobody awaits yet is not cut off: only awaiting an undriven call is a stall', async () => {
    const { farm, dev, host } = farmWithDevice(false);
    const fd = host.spawnProcess({ name: 'p' }).openIommufd();
    const dma = dev.dma({ op: 'read', iova: 0x1000n, length: 4 });
    const ioctl = fd.ioctl('IOMMU_IOAS_ALLOC', {});
    for (let i = 0; i < 3; i++) await macrotask();
    while (farm.step()) {}
    expect(await dma).toMatchObject({ ok: false });
    expect(await ioctl).toMatchObject({ out_ioas_id: 1 });
  });

  test('a held farm (a harness that drives it later) is not cut off', async () => {
    const { farm, dev } = farmWithDevice(false);
    const release = farm.scheduler.hold();
    const p = outcome(dev.dma({ op: 'read', iova: 0x1000n, length: 4 }));
    for (let i = 0; i < 5; i++) await macrotask();
    await driveAll(farm);
    release();
    expect(await p).toMatchObject({ ok: false });
  });
});

async function driveAll(farm: Farm): Promise<void> {
  while (farm.step()) await macrotask();
}
