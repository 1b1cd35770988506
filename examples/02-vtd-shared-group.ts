/**
 * Two functions of one device in one IOMMU group behind Intel VT-d. The group, not the device,
 * is the unit of isolation: once one function attaches, the other translates through the same
 * domain, and attaching it anywhere else is refused (EINVAL) with nothing changed.
 *
 *   npm run example examples/02-vtd-shared-group.ts
 */
import { createFarm, IOMMU_IOAS_MAP_READABLE, IommufdError } from 'iommu-farm';

const farm = createFarm({ seed: 2 });
const host = farm.addHost({ name: 'h0' });
host.addIommu({ name: 'dmar0', vendor: 'intel-vtd' });
const fn0 = host.addDevice({ name: 'gpu0.0', iommu: 'dmar0', bdf: '0000:03:00.0', group: 'g3' });
const fn1 = host.addDevice({ name: 'gpu0.1', iommu: 'dmar0', bdf: '0000:03:00.1', group: 'g3' });
const vmm = host.spawnProcess({ name: 'vmm' });
const iommufd = vmm.openIommufd();

/** An IOAS with one 64 KiB buffer filled with `byte`, mapped at the kernel's chosen IOVA. */
async function ioasWith(byte: number): Promise<{ ioas: number; iova: bigint }> {
  const { out_ioas_id } = await iommufd.ioctl('IOMMU_IOAS_ALLOC', {});
  const buf = vmm.mmap(1n << 16n);
  vmm.write(buf, new Uint8Array(1 << 16).fill(byte));
  const { iova } = await iommufd.ioctl('IOMMU_IOAS_MAP', {
    flags: IOMMU_IOAS_MAP_READABLE,
    ioas_id: out_ioas_id,
    user_va: buf,
    length: 1n << 16n,
  });
  return { ioas: out_ioas_id as number, iova: iova as bigint };
}

const a = await ioasWith(0xaa);
const b = await ioasWith(0xbb);
const vfio0 = vmm.openVfioDevice('gpu0.0');
const vfio1 = vmm.openVfioDevice('gpu0.1');
await vfio0.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: iommufd.fd });
await vfio1.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: iommufd.fd });

const readByte = async (name: string, dev: typeof fn0, iova: bigint) => {
  const r = await dev.dma({ op: 'read', iova, length: 1 });
  console.log(
    `${name} reads IOVA 0x${iova.toString(16)}: ${r.ok ? `0x${r.data?.[0]?.toString(16)}` : r.fault.reason}`,
  );
};

const { pt_id } = await vfio0.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: a.ioas });
console.log(`gpu0.0 attached to IOAS ${a.ioas} through HWPT ${pt_id}`);
await readByte('gpu0.0', fn0, a.iova);
// gpu0.1 never attached, yet it shares the group's domain.
await readByte('gpu0.1', fn1, a.iova);

try {
  await vfio1.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: b.ioas });
} catch (err) {
  if (!(err instanceof IommufdError)) throw err;
  console.log(`gpu0.1 attach to IOAS ${b.ioas}: ${err.errno}`);
}
await readByte('gpu0.1', fn1, a.iova);

await vfio1.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: pt_id as number });
console.log(`gpu0.1 attached to HWPT ${pt_id} as well`);
await vfio0.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {});
await vfio1.ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {});
await readByte('gpu0.0', fn0, a.iova);
