import { describe, expect, test } from 'vitest';
import {
  availableVendors,
  createFarm,
  type FarmEvent,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IommufdError,
  type VendorName,
} from '../../index.ts';

const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
const LENGTH = 64n * 1024n;

/** One host, one IOMMU of `vendor`, a two-device group and a VMM that owns it. */
async function vmmWith(vendor: VendorName, seed = 1) {
  const farm = createFarm({ seed });
  const host = farm.addHost({ name: 'h0' });
  host.addIommu({ name: 'iommu0', vendor });
  const nic = host.addDevice({ name: 'nic0', iommu: 'iommu0', bdf: '0000:01:00.0', group: 'g0' });
  host.addDevice({ name: 'nic1', iommu: 'iommu0', bdf: '0000:01:00.1', group: 'g0' });
  const vmm = host.spawnProcess({ name: 'vmm' });
  const fd = vmm.openIommufd();
  const { out_ioas_id: ioas } = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})) as { out_ioas_id: number };
  const vdev = vmm.openVfioDevice('nic0');
  await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
  await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: ioas });
  const buf = vmm.mmap(LENGTH, { align: 2n << 20n });
  const map = async (flags = RW) =>
    (
      (await fd.ioctl('IOMMU_IOAS_MAP', { flags, ioas_id: ioas, user_va: buf, length: LENGTH })) as {
        iova: bigint;
      }
    ).iova;
  return { farm, host, nic, vmm, fd, ioas, vdev, buf, map };
}

describe.each(availableVendors())(
  'the same scenario on %s gives the same vendor-neutral outcome',
  (vendor) => {
    test('a DMA to a mapped IOVA returns the process bytes; after IOAS_UNMAP returns it faults', async () => {
      const { nic, vmm, fd, ioas, buf, map } = await vmmWith(vendor);
      const bytes = new Uint8Array(8192).map((_, i) => (i * 7 + 3) & 0xff);
      vmm.write(buf + 4096n, bytes);
      const iova = await map();
      const read = await nic.dma({ op: 'read', iova: iova + 4096n, length: bytes.length });
      expect(read.ok).toBe(true);
      expect(read.ok && Buffer.from(read.data!).equals(Buffer.from(bytes))).toBe(true);
      await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioas, iova, length: LENGTH });
      for (const at of [iova, iova + 4096n, iova + LENGTH - 8n]) {
        const after = await nic.dma({ op: 'read', iova: at, length: 8 });
        expect(after.ok).toBe(false);
        expect(!after.ok && after.fault.vendor).toBe(vendor);
      }
    });

    test('a DMA write lands in process memory; a read-only mapping refuses it', async () => {
      const { nic, vmm, fd, ioas, buf, map } = await vmmWith(vendor);
      const iova = await map();
      const data = new TextEncoder().encode(`written by nic0 behind ${vendor}`);
      expect((await nic.dma({ op: 'write', iova: iova + 100n, length: data.length, data })).ok).toBe(true);
      expect(new TextDecoder().decode(vmm.read(buf + 100n, data.length))).toBe(
        `written by nic0 behind ${vendor}`,
      );
      await fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioas, iova, length: LENGTH });
      const ro = await map(IOMMU_IOAS_MAP_READABLE);
      const denied = await nic.dma({ op: 'write', iova: ro, length: 8, data: new Uint8Array(8) });
      expect(denied.ok).toBe(false);
      expect((await nic.dma({ op: 'read', iova: ro, length: 8 })).ok).toBe(true);
    });

    test('a device in a group owned by another ctx cannot be bound (EBUSY)', async () => {
      const { host } = await vmmWith(vendor);
      const other = host.spawnProcess({ name: 'other' });
      const ofd = other.openIommufd();
      const err = await other
        .openVfioDevice('nic1')
        .ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: ofd.fd })
        .catch((e: unknown) => e);
      expect(IommufdError.is(err) && err.errno).toBe('EBUSY');
    });

    test('after detach the device is blocked; after close nothing stays pinned', async () => {
      const { nic, vmm, fd, vdev, map } = await vmmWith(vendor);
      const iova = await map();
      await vdev.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {});
      expect((await nic.dma({ op: 'read', iova, length: 8 })).ok).toBe(false);
      await vdev.close();
      await fd.close();
      expect(vmm.mm.counters.pinnedPages).toBe(0n);
      expect(vmm.user.lockedPages).toBe(0n);
    });

    test('the same seed gives the same trace', async () => {
      const run = async () => {
        const events: string[] = [];
        const { farm, nic, fd, ioas, map } = await vmmWith(vendor, 7);
        farm.events$.subscribe((e: FarmEvent) =>
          events.push(JSON.stringify(e, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v))),
        );
        const iova = await map();
        await Promise.all([
          nic.dma({ op: 'read', iova, length: 4096 }),
          nic.dma({ op: 'read', iova: iova + 8192n, length: 4096 }),
          fd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioas, iova, length: LENGTH }),
        ]);
        await farm.settle();
        return { events, now: farm.now };
      };
      const [a, b] = [await run(), await run()];
      expect(a.events.length).toBeGreaterThan(3);
      expect(b).toEqual(a);
    });
  },
);

test('every vendor of the matrix is simulated', () => {
  expect(availableVendors()).toEqual(['mock', 'intel-vtd', 'arm-smmuv3', 'amd-vi']);
});
