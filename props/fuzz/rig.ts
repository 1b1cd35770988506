import { createFarm, type Farm } from '../../actors/farm.ts';
import type { Host } from '../../actors/host.ts';
import type { Iommufd } from '../../actors/iommufd-file.ts';
import type { Process } from '../../actors/process.ts';
import type { FaultName } from '../../actors/runtime/faults.ts';
import type { VfioDevice } from '../../actors/vfio/vfio-device.ts';
import type { VendorName } from '../../vendors/driver.ts';
import { BUFFER_BYTES, BUFFER_VA, fillBuffer } from '../world/tags.ts';

/** Where each process keeps the structs of raw calls (and their payloads, from PAYLOAD_VA). */
export const SCRATCH_VA = 0x5000_0000n;
export const SCRATCH_BYTES = 64 * 1024;
export const PAYLOAD_VA = SCRATCH_VA + 0x1000n;
/** A shared mapping of the process's memfd (the source of IOMMU_IOAS_MAP_FILE), tagged like the buffer. */
export const FILE_VA = 0x6000_0000n;
export const FILE_BYTES = BUFFER_BYTES;

export interface RigOptions {
  readonly vendor: VendorName;
  /** The farm's seed (fabric order, vendor jitter). */
  readonly farmSeed: number;
  readonly faults?: readonly FaultName[];
}

/** A device of the rig's topology. */
export interface RigDevice {
  readonly name: string;
  readonly iommu: string;
  readonly group: string;
  readonly pasidBits: number;
  readonly ats: boolean;
  readonly pri: boolean;
}

/**
 * One host (a selftest host, so the mock IOMMU and IOMMU_TEST_CMD are there on every vendor)
 * with an IOMMU of the vendor under test: a two-device group (one PASID+ATS+PRI function, one
 * plain), a PASID+ATS device alone, a narrow-PASID device alone.
 */
export const RIG_DEVICES: readonly RigDevice[] = [
  { name: 'd0', iommu: 'iommu0', group: 'g0', pasidBits: 20, ats: true, pri: true },
  { name: 'd1', iommu: 'iommu0', group: 'g0', pasidBits: 0, ats: false, pri: false },
  { name: 'd2', iommu: 'iommu0', group: 'g1', pasidBits: 20, ats: true, pri: false },
  { name: 'd3', iommu: 'iommu0', group: 'g2', pasidBits: 8, ats: false, pri: false },
];

/** Two processes of two users: root (p0) and an unprivileged one with a small RLIMIT_MEMLOCK (p1). */
export const RIG_PROCESSES = [
  { name: 'p0', uid: 0 },
  { name: 'p1', uid: 1000, privileged: false, memlockLimit: 512n * 4096n },
] as const;

/** The farm a campaign drives, and every handle its calls opened (closed ones included). */
export class Rig {
  readonly farm: Farm;
  readonly host: Host;
  readonly procs: Process[] = [];
  /** Per process: fd → the iommufd handle opened there (kept after close). */
  readonly iommufds: Array<Map<number, Iommufd>> = [];
  readonly vfios: Array<Map<number, VfioDevice>> = [];
  /** Per process: the memfd behind FILE_VA. */
  readonly memfds: number[] = [];

  constructor(readonly opts: RigOptions) {
    this.farm = createFarm({ seed: opts.farmSeed, autoRun: false });
    // The fuzzer steps this farm itself (bounded): its awaited calls are never stalled.
    this.farm.scheduler.hold();
    for (const f of opts.faults ?? []) this.farm.faults[f] = true;
    this.host = this.farm.addHost({ name: 'h0', selftest: true });
    this.host.addIommu({ name: 'iommu0', vendor: opts.vendor });
    for (const d of RIG_DEVICES) this.host.addDevice(d);
    RIG_PROCESSES.forEach((spec, i) => {
      const proc = this.host.spawnProcess(spec);
      this.procs.push(proc);
      fillBuffer(proc, i);
      proc.mmap(SCRATCH_BYTES, { fixed: SCRATCH_VA });
      const memfd = proc.memfd(FILE_BYTES);
      this.memfds.push(memfd);
      proc.mmap(FILE_BYTES, { fixed: FILE_VA, fd: memfd, shared: true });
      proc.write(FILE_VA, proc.read(BUFFER_VA, BUFFER_BYTES));
      const fd = proc.openIommufd();
      this.iommufds.push(new Map([[fd.fd, fd]]));
      this.vfios.push(new Map());
    });
  }

  /** The setup as code, for reproduction scripts. */
  static setupCode(opts: RigOptions): string[] {
    return [
      `const rig = new Rig(${JSON.stringify({ vendor: opts.vendor, farmSeed: opts.farmSeed, faults: opts.faults ?? [] })});`,
    ];
  }

  /** Every ctx of every open /dev/iommu handle, not yet released. */
  liveIommufds(): Array<{ p: number; fd: Iommufd }> {
    const out: Array<{ p: number; fd: Iommufd }> = [];
    this.iommufds.forEach((m, p) => {
      for (const fd of m.values()) if (!fd.ctx.closed) out.push({ p, fd });
    });
    return out;
  }
}
