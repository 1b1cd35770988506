import fc from 'fast-check';
import type { VendorName } from '../../vendors/driver.ts';
import { type IommuOptions, vendorOptionsArb } from '../vendors/options.ts';

/** A farm to build: hosts with IOMMUs, devices in groups, processes. Plain data, so it prints and shrinks. */
export interface TopologySpec {
  /** The farm's seed (fabric delivery order, vendor jitter). */
  readonly seed: number;
  readonly hosts: readonly HostSpec[];
}

export interface HostSpec {
  readonly name: string;
  readonly iommus: readonly IommuSpec[];
  readonly devices: readonly DeviceSpec[];
  readonly processes: readonly ProcessSpec[];
}

export interface IommuSpec {
  readonly name: string;
  readonly vendor: VendorName;
  /** Vendor options drawn per case (latencies, cache sizes, ATS ...; see props/vendors/options.ts). */
  readonly options?: IommuOptions;
}

export interface DeviceSpec {
  readonly name: string;
  readonly iommu: string;
  /** iommu_group name, unique per host; devices sharing it form a multi-device group. */
  readonly group: string;
  readonly pasidBits: number;
  readonly ats: boolean;
  readonly pri: boolean;
}

export interface ProcessSpec {
  readonly name: string;
  readonly uid: number;
  /** RLIMIT_MEMLOCK in 4 KiB pages; unlimited when absent. */
  readonly memlockPages?: number;
}

export interface TopologyConstraints {
  /** Vendors the IOMMUs are drawn from. @defaultValue ['mock'] */
  readonly vendors?: readonly VendorName[];
  /** @defaultValue 2 */
  readonly maxHosts?: number;
  /** Per host. @defaultValue 2 */
  readonly maxIommus?: number;
  /** Per host. @defaultValue 4 */
  readonly maxDevices?: number;
  /** Per host. @defaultValue 3 */
  readonly maxProcesses?: number;
  /** Chance in [0, 1] that a device joins an existing group of its IOMMU. @defaultValue 0.4 */
  readonly sharedGroupBias?: number;
}

interface RawDevice {
  iommu: number;
  join: number | null;
  pasidBits: number;
  ats: boolean;
  pri: boolean;
}

/**
 * Topologies: 1..maxHosts hosts, each with IOMMUs of the given vendors, devices (some sharing an
 * iommu_group, some with PASID/ATS/PRI) and processes (some sharing a uid, some with a small
 * RLIMIT_MEMLOCK). Shrinks towards one host, one IOMMU, one device, one process.
 */
export function topologyArb(constraints: TopologyConstraints = {}): fc.Arbitrary<TopologySpec> {
  const {
    vendors = ['mock'],
    maxHosts = 2,
    maxIommus = 2,
    maxDevices = 4,
    maxProcesses = 3,
    sharedGroupBias = 0.4,
  } = constraints;
  if (vendors.length === 0) throw new Error('topologyArb needs at least one vendor');
  if (maxHosts < 1 || maxIommus < 1 || maxDevices < 1 || maxProcesses < 1) {
    throw new Error('topologyArb maxima should be at least 1');
  }
  const joinPct = Math.round(sharedGroupBias * 100);
  const device = fc.record({
    iommu: fc.nat({ max: maxIommus - 1 }),
    join: fc.oneof(
      { weight: 100 - joinPct, arbitrary: fc.constant(null) },
      { weight: joinPct, arbitrary: fc.nat({ max: maxDevices - 1 }) },
    ),
    pasidBits: fc.constantFrom(0, 20, 8),
    ats: fc.boolean(),
    pri: fc.boolean(),
  });
  const proc = fc.record({
    uid: fc.constantFrom(1000, 1001),
    // A limit a few areas past the fixture's 8 pages: a domain fill then runs out part-way.
    memlockPages: fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom(4, 8, 24, 40) },
    ),
  });
  const host = fc.record({
    iommus: fewOf(
      fc
        .constantFrom(...vendors)
        .chain((vendor) => vendorOptionsArb(vendor).map((options) => ({ vendor, options }))),
      maxIommus,
    ),
    devices: fewOf(device, maxDevices),
    processes: fewOf(proc, maxProcesses),
  });
  return fc.record({ seed: fc.nat(), hosts: fewOf(host, maxHosts) }).map(({ seed, hosts }) => {
    let dev = 0;
    let p = 0;
    return {
      seed,
      hosts: hosts.map((h, hi): HostSpec => {
        const iommus = h.iommus.map(({ vendor, options }, i) => ({
          name: `iommu${i}`,
          vendor,
          ...(options === undefined ? {} : { options }),
        }));
        const devices: DeviceSpec[] = [];
        h.devices.forEach((d: RawDevice, i) => {
          const iommu = iommus[d.iommu % iommus.length]!.name;
          const peers = devices.filter((x) => x.iommu === iommu);
          const joined = d.join === null || peers.length === 0 ? undefined : peers[d.join % peers.length];
          devices.push({
            name: `d${dev++}`,
            iommu,
            group: joined?.group ?? `g${i}`,
            pasidBits: d.pasidBits,
            ats: d.ats,
            pri: d.pri,
          });
        });
        const processes = h.processes.map((x) => ({
          name: `p${p++}`,
          uid: x.uid,
          ...(x.memlockPages === undefined ? {} : { memlockPages: x.memlockPages }),
        }));
        return { name: `h${hi}`, iommus, devices, processes };
      }),
    };
  });
}

/** 1..max items, the smaller counts more likely (a big topology dilutes what the commands hit). */
function fewOf<T>(arb: fc.Arbitrary<T>, max: number): fc.Arbitrary<T[]> {
  const counts = Array.from({ length: max }, (_, i) => ({
    weight: max - i,
    arbitrary: fc.array(arb, { minLength: i + 1, maxLength: i + 1 }),
  }));
  return fc.oneof({ withCrossShrink: true }, ...counts);
}
