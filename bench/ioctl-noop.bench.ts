/** The cost of a no-op ioctl (IOMMU_OPTION GET of RLIMIT_MODE), raw and typed, against an awaited empty call. */
import { createFarm, IOCTLS, IOMMU_OPTION_OP_GET, IOMMU_OPTION_RLIMIT_MODE } from '../index.ts';
import { measure, report } from './harness.ts';

export async function benchIoctlNoop(): Promise<void> {
  const farm = createFarm({ seed: 1 });
  const host = farm.addHost({ name: 'h0' });
  const proc = host.spawnProcess({ name: 'bench' });
  const fd = proc.openIommufd();
  const layout = IOCTLS.IOMMU_OPTION.layout;
  const va = proc.mmap(4096);
  proc.write(
    va,
    layout.encode({ size: layout.sizeof, option_id: IOMMU_OPTION_RLIMIT_MODE, op: IOMMU_OPTION_OP_GET }),
  );
  const empty = async () => 0;
  const baseline = await measure('baseline: await of an empty async function', empty, { batch: 1000 });
  const raw = await measure('ioctlRaw(IOMMU_OPTION, va)', () => fd.ioctlRaw(IOCTLS.IOMMU_OPTION.cmd, va));
  const typed = await measure("ioctl('IOMMU_OPTION', { ... })", () =>
    fd.ioctl('IOMMU_OPTION', { option_id: IOMMU_OPTION_RLIMIT_MODE, op: IOMMU_OPTION_OP_GET }),
  );
  report('No-op ioctl', baseline, [raw, typed]);
}
