import { createFarm, type Farm, type Host } from '../../../../index.ts';
import type { Smmuv3PagingDomain } from '../../../../vendors/arm-smmuv3/domain.ts';
import type { Smmuv3Driver } from '../../../../vendors/arm-smmuv3/driver.ts';
import type { Smmuv3Options } from '../../../../vendors/arm-smmuv3/features.ts';
import type { Smmuv3Hardware } from '../../../../vendors/arm-smmuv3/hardware.ts';
import { IOMMU_READ, IOMMU_WRITE } from '../../../../vendors/driver.ts';

export const RW = IOMMU_READ | IOMMU_WRITE;

export interface SmmuRig {
  readonly farm: Farm;
  readonly host: Host;
  readonly drv: Smmuv3Driver;
  readonly hw: Smmuv3Hardware;
}

/** A host with one SMMU whose driver finished `arm_smmu_device_reset`. */
export async function smmuRig(opts: Smmuv3Options = {}, seed = 1): Promise<SmmuRig> {
  const farm = createFarm({ seed });
  const host = farm.addHost({ name: 'h0' });
  const h = host.addIommu({ name: 'smmu0', vendor: 'arm-smmuv3', ...opts });
  const drv = h.driver as Smmuv3Driver;
  await drv.ready;
  return { farm, host, drv, hw: h.hw as Smmuv3Hardware };
}

/** A page of host memory filled with `fill`, returned as a PA. */
export function page(host: Host, fill: number): bigint {
  const pa = host.phys.allocPage() << 12n;
  host.phys.write(pa, new Uint8Array(4096).fill(fill));
  return pa;
}

/** A device behind smmu0 attached (RID) to a fresh paging domain. */
export async function attachedDevice(
  rig: SmmuRig,
  dev: { name?: string; bdf?: string; ats?: boolean; pasidBits?: number } = {},
  flags = 0,
) {
  const d = rig.host.addDevice({
    name: dev.name ?? 'd0',
    iommu: 'smmu0',
    bdf: dev.bdf ?? '0000:01:00.0',
    ats: dev.ats ?? false,
    pasidBits: dev.pasidBits ?? 0,
  });
  const dom = rig.drv.domainAllocPaging(d.ref, flags, undefined) as Smmuv3PagingDomain;
  await dom.attachDev(d.ref, undefined, undefined);
  return { dev: d, dom };
}

export function opsOf(drv: Smmuv3Driver, from = 0): string[] {
  return drv.cmdq.history.slice(from).map((s) => s.ops.join('+'));
}

/** The physical address of the level-3 descriptor of `iova` in a 4-level table at `root`. */
export function leafPtePa(rig: SmmuRig, root: bigint, iova: bigint): bigint {
  let table = root;
  for (let level = 0; level < 3; level++) {
    const idx = (iova >> BigInt(39 - 9 * level)) & 511n;
    table = rig.host.phys.readU64(table + idx * 8n) & ((1n << 48n) - 1n) & ~0xfffn;
  }
  return table + ((iova >> 12n) & 511n) * 8n;
}

export function readWords(rig: SmmuRig, pa: bigint, n = 8): bigint[] {
  return Array.from({ length: n }, (_, i) => rig.host.phys.readU64(pa + BigInt(i * 8)));
}

export function writeWords(rig: SmmuRig, pa: bigint, words: readonly bigint[]): void {
  words.forEach((w, i) => {
    rig.host.phys.writeU64(pa + BigInt(i * 8), w);
  });
}
