/** The cost of a no-op ioctl (IOMMU_OPTION GET of RLIMIT_MODE), raw and typed, against an awaited empty call. */
import { createFarm, IOCTLS, IOMMU_OPTION_OP_GET, IOMMU_OPTION_RLIMIT_MODE } from '../index.ts';
import type { BenchSuite } from './harness.ts';

export const ioctlNoop: BenchSuite = {
  name: 'ioctl-noop',
  title: 'No-op ioctl',
  async prepare() {
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
    const batch = 100;
    const times = (op: () => Promise<unknown>) => async () => {
      for (let i = 0; i < batch; i++) await op();
    };
    return {
      baseline: { name: 'baseline: await of an empty async function', fn: times(empty), batch },
      cases: [
        {
          name: 'ioctlRaw(IOMMU_OPTION, va)',
          fn: times(() => fd.ioctlRaw(IOCTLS.IOMMU_OPTION.cmd, va)),
          batch,
        },
        {
          name: "ioctl('IOMMU_OPTION', { ... })",
          fn: times(() =>
            fd.ioctl('IOMMU_OPTION', { option_id: IOMMU_OPTION_RLIMIT_MODE, op: IOMMU_OPTION_OP_GET }),
          ),
          batch,
        },
      ],
    };
  },
  summarize(rows) {
    const [, raw, typed] = rows;
    return raw && typed ? [`typed ÷ raw: ${(typed.nsPerOp / raw.nsPerOp).toFixed(2)}×`] : [];
  },
};
