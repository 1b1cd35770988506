import type { Farm } from '../../farm.ts';
import { MOCK_IOMMU } from '../../host.ts';
import type { DeviceSpec, HostSpec, IommuSpec, ProcessSpec, Topology } from './schema.ts';
import { encodeOption } from './size.ts';

const DEFAULT_MEMORY = 64n << 30n;

/**
 * The topology of a farm as built: hosts, IOMMUs with their vendor options, devices with their
 * groups and capabilities, processes with their limits. Defaults are left out, so the result
 * reads like what a person would have written. Devices the selftest's mock bus creates during a
 * run (IOMMU_TEST_OP_MOCK_DOMAIN) are part of the run, not of the topology, and are skipped.
 */
export function captureTopology(farm: Farm): Topology {
  const hosts = farm.hosts().map((host): HostSpec => {
    const iommus = host
      .iommus()
      .filter((i) => !(host.selftest && i.name === MOCK_IOMMU))
      .map((i): IommuSpec => {
        const options = Object.fromEntries(
          Object.entries(i.options).map(([k, v]) => [k, encodeOption(v) as boolean | number | string]),
        );
        return { name: i.name, vendor: i.vendor, ...(Object.keys(options).length > 0 ? { options } : {}) };
      });
    const devices = host
      .devices()
      .filter((d) => !(host.selftest && /^mock_dev\d+$/.test(d.name)))
      .map((d): DeviceSpec => {
        const { ref, group } = d.kdev;
        return {
          name: d.name,
          iommu: d.kdev.iommu.name,
          bdf: ref.bdf,
          ...(group.name === d.name ? {} : { group: group.name }),
          ...(ref.pasidBits ? { pasidBits: ref.pasidBits } : {}),
          ...(ref.ats ? { ats: true } : {}),
          ...(ref.pri ? { pri: true } : {}),
          ...(ref.flags ? { flags: ref.flags } : {}),
          ...(d.kdev.kernelDriver === undefined ? {} : { kernelDriver: d.kdev.kernelDriver }),
          ...(d.kdev.msiIsolated ? {} : { msiIsolated: false }),
        };
      });
    const processes = host.processes().map(
      (p): ProcessSpec => ({
        name: p.name,
        ...(p.memlockLimit === undefined ? {} : { memlock: p.memlockLimit }),
        ...(p.privileged ? {} : { privileged: false }),
        ...(p.user.uid === (p.privileged ? 0 : 1000) ? {} : { uid: p.user.uid }),
      }),
    );
    return {
      name: host.name,
      ...(host.selftest ? { selftest: true } : {}),
      ...(host.phys.totalBytes === DEFAULT_MEMORY ? {} : { memory: host.phys.totalBytes }),
      iommus,
      devices,
      processes,
    };
  });
  return { version: 1, seed: farm.seed, hosts };
}
