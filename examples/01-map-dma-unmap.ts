/**
 * The smallest farm: one host with the kernel selftest's mock IOMMU, a VMM that maps a buffer
 * for a device through /dev/iommu, a DMA that reads the buffer, and the same DMA refused after
 * the unmap with the IOMMU's fault record.
 *
 *   npm run example examples/01-map-dma-unmap.ts
 */
import { createFarm, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE, IommufdError } from 'iommu-farm';

const farm = createFarm({ seed: 1 });
const host = farm.addHost({ name: 'h0', selftest: true });
host.addIommu({ name: 'iommu0', vendor: 'mock' });
const nic = host.addDevice({ name: 'nic0', iommu: 'iommu0', bdf: '0000:01:00.0', group: 'g0' });
const vmm = host.spawnProcess({ name: 'vmm', memlockLimit: 1n << 30n });

const iommufd = vmm.openIommufd();
const { out_ioas_id } = await iommufd.ioctl('IOMMU_IOAS_ALLOC', {});
const vdev = vmm.openVfioDevice('nic0');
await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: iommufd.fd });
await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: out_ioas_id });

const length = 1n << 16n;
const buf = vmm.mmap(length, { align: 2n << 20n });
vmm.write(buf, new TextEncoder().encode('hello, device'));
const { iova } = await iommufd.ioctl('IOMMU_IOAS_MAP', {
  flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
  ioas_id: out_ioas_id,
  user_va: buf,
  length,
});
const at = iova as bigint;
console.log(`mapped ${length} bytes at IOVA 0x${at.toString(16)}`);

const read = await nic.dma({ op: 'read', iova: at, length: 13 });
console.log(`DMA read: ${read.ok ? JSON.stringify(new TextDecoder().decode(read.data)) : read.fault.reason}`);

await iommufd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: out_ioas_id, iova: at, length });
const after = await nic.dma({ op: 'read', iova: at, length: 13 });
console.log(`DMA after unmap: ${after.ok ? 'ok (stale translation!)' : `fault ${after.fault.reason}`}`);

// A second unmap finds nothing there: the kernel's ENOENT, and nothing changes.
try {
  await iommufd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: out_ioas_id, iova: at, length });
} catch (err) {
  if (!(err instanceof IommufdError)) throw err;
  console.log(`unmap again: ${err.errno} (${err.code})`);
}
console.log(`virtual time: ${farm.now} ns`);
