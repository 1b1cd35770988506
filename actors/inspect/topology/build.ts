import type { VendorName } from '../../../vendors/driver.ts';
import { createFarm, type Farm } from '../../farm.ts';
import { IommufdError } from '../../iommufd/errno.ts';
import { FarmOptionError } from '../../runtime/farm-errors.ts';
import { topologyData } from './data.ts';
import { parseTopologyDocument } from './parse.ts';
import type { Issue } from './references.ts';
import type { Topology } from './schema.ts';
import { decodeOption } from './size.ts';

export interface LoadTopologyOptions {
  /** Overrides the topology's own seed. */
  readonly seed?: number;
  /** The file name errors are reported against. */
  readonly file?: string;
  readonly autoRun?: boolean;
  /** Called with the new farm before anything is added to it: subscribe to `events$` here to see the build too. */
  readonly onCreate?: (farm: Farm) => void;
}

/** Thrown by `buildFarm` when the simulator refuses a part (bad options, ENODEV vendor). */
class BuildRefused extends Error {
  constructor(readonly issue: Issue) {
    super(issue.message);
  }
}

function attempt<T>(path: readonly PropertyKey[], make: () => T): T {
  try {
    return make();
  } catch (err) {
    if (err instanceof IommufdError || err instanceof FarmOptionError)
      throw new BuildRefused({ path, message: err.message });
    throw err;
  }
}

/** Builds a farm through the public builder API, in the order the topology lists things. */
function buildFarm(t: Topology, opts: LoadTopologyOptions): Farm {
  const farm = createFarm({
    seed: opts.seed ?? t.seed ?? 0,
    ...(opts.autoRun === undefined ? {} : { autoRun: opts.autoRun }),
  });
  opts.onCreate?.(farm);
  t.hosts.forEach((h, hi) => {
    const host = farm.addHost({
      name: h.name,
      ...(h.selftest === undefined ? {} : { selftest: h.selftest }),
      ...(h.memory === undefined ? {} : { memoryBytes: h.memory }),
    });
    h.iommus.forEach((i, ii) => {
      const options = Object.fromEntries(
        Object.entries(i.options ?? {}).map(([k, v]) => [k, decodeOption(v)]),
      );
      attempt(['hosts', hi, 'iommus', ii], () =>
        host.addIommu({ ...options, name: i.name, vendor: i.vendor as VendorName }),
      );
    });
    h.devices.forEach((d, di) => {
      attempt(['hosts', hi, 'devices', di], () => host.addDevice(d));
    });
    for (const p of h.processes) {
      host.spawnProcess({
        name: p.name,
        ...(p.memlock === undefined ? {} : { memlockLimit: p.memlock }),
        ...(p.privileged === undefined ? {} : { privileged: p.privileged }),
        ...(p.uid === undefined ? {} : { uid: p.uid }),
      });
    }
  });
  return farm;
}

/**
 * Builds a farm from a topology: YAML or JSON text (checked, with `file:line:col` on every
 * problem), or a model such as `farm.toTopology()` returns (checked the same way).
 */
export function loadTopology(source: string | Topology, opts: LoadTopologyOptions = {}): Farm {
  const text = typeof source === 'string' ? source : JSON.stringify(topologyData(source));
  const { topology, locate } = parseTopologyDocument(text, opts.file);
  try {
    return buildFarm(topology, opts);
  } catch (err) {
    if (err instanceof BuildRefused) throw locate(err.issue);
    throw err;
  }
}
