/**
 * The demo farm: one host with a mock IOMMU, a VMM process that maps memory for a device through
 * /dev/iommu, a DMA that reads the process's bytes, and the same DMA refused after the unmap.
 * Run: npm start
 */
import {
  createFarm,
  type FarmEvent,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IommufdError,
} from '../index.ts';

const hex = (n: bigint | number) => `0x${n.toString(16)}`;
const step = (title: string) => console.log(`\n▸ ${title}`);

const farm = createFarm({ seed: 42 });
const trace: FarmEvent[] = [];
farm.events$.subscribe((e) => trace.push(e));

const host = farm.addHost({ name: 'h0' });
host.addIommu({ name: 'iommu0', vendor: 'mock' });
const nic = host.addDevice({ name: 'nic0', iommu: 'iommu0', bdf: '0000:01:00.0', group: 'g0' });
const vmm = host.spawnProcess({ name: 'vmm', memlockLimit: 64n << 20n });
console.log('iommu-farm demo (seed 42): host h0, IOMMU iommu0 (mock), device nic0 at 0000:01:00.0');

step('The VMM opens /dev/iommu, allocates an IOAS and binds nic0 through its VFIO cdev');
const iommufd = vmm.openIommufd();
const { out_ioas_id: ioas } = await iommufd.ioctl('IOMMU_IOAS_ALLOC', {});
const vdev = vmm.openVfioDevice('nic0');
const { out_devid } = await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: iommufd.fd });
const { pt_id } = await vdev.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: ioas });
console.log(`  IOAS ${ioas}; device object ${out_devid}; attached through auto-domain HWPT ${pt_id}`);

step('It maps 64 KiB of its memory for DMA');
const length = 64n * 1024n;
const buffer = vmm.mmap(length, { align: 2n << 20n });
const message = 'hello from the VMM, read by nic0 over DMA';
vmm.write(buffer, new TextEncoder().encode(message));
const { iova } = (await iommufd.ioctl('IOMMU_IOAS_MAP', {
  flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
  ioas_id: ioas,
  user_va: buffer,
  length,
})) as { iova: bigint };
console.log(
  `  user VA ${hex(buffer)} → IOVA ${hex(iova)} (${length / 1024n} KiB), pinned pages: ${vmm.mm.counters.pinnedPages}`,
);

step('nic0 reads it by DMA');
const read = await nic.dma({ op: 'read', iova, length: message.length });
console.log(read.ok ? `  ok: "${new TextDecoder().decode(read.data)}"` : `  fault: ${read.fault.reason}`);

step('nic0 writes a reply by DMA; the VMM sees it in its own memory');
const reply = new TextEncoder().encode('ack from nic0');
await nic.dma({ op: 'write', iova: iova + 4096n, length: reply.length, data: reply });
console.log(
  `  VMM reads at ${hex(buffer + 4096n)}: "${new TextDecoder().decode(vmm.read(buffer + 4096n, reply.length))}"`,
);

step('The VMM unmaps the range; the same DMA is now refused by the IOMMU');
const { length: unmapped } = (await iommufd.ioctl('IOMMU_IOAS_UNMAP', { ioas_id: ioas, iova, length })) as {
  length: bigint;
};
const refused = await nic.dma({ op: 'read', iova, length: message.length });
console.log(`  unmapped ${unmapped / 1024n} KiB; pinned pages now ${vmm.mm.counters.pinnedPages}`);
console.log(
  refused.ok
    ? '  DMA unexpectedly succeeded!'
    : `  DMA refused: ${refused.fault.reason} at IOVA ${hex(refused.fault.iova)}`,
);

step('A second process cannot take the device: its group is owned by the VMM');
const intruder = host.spawnProcess({ name: 'intruder' });
const other = intruder.openIommufd();
try {
  await intruder.openVfioDevice('nic0').ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: other.fd });
  console.log('  bind unexpectedly succeeded!');
} catch (err) {
  console.log(`  bind refused: ${IommufdError.is(err) ? err.errno : String(err)}`);
}

step('Teardown: closing the fds destroys every object, leaf first');
await vdev.close();
await iommufd.close();
console.log(`  pinned pages ${vmm.mm.counters.pinnedPages}, memlock charge ${vmm.user.lockedPages} pages`);

step('Actors and their states');
for (const a of farm.actors())
  console.log(`  ${a.id.padEnd(12)} ${a.machine.padEnd(8)} ${JSON.stringify(a.state)}`);

step(`Trace: ${trace.length} events over ${farm.now} ns of virtual time; the last few:`);
for (const e of trace.slice(-6)) {
  const { type, t, ...rest } = e;
  const detail = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'bigint' ? hex(v) : JSON.stringify(v)}`)
    .join(' ');
  console.log(`  t=${t} ${type} ${detail}`);
}
