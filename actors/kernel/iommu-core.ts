import type { DeviceRef, Domain, IommuDriver } from '../../vendors/driver.ts';
import type { IommuHardware } from '../../vendors/hardware.ts';
import { fail } from '../iommufd/errno.ts';
import { type FailNth, NEVER_FAILS } from '../runtime/fail-nth.ts';

/** One IOMMU instance of a host: its kernel driver and its hardware. */
export interface IommuInstance {
  readonly name: string;
  readonly driver: IommuDriver;
  readonly hw: IommuHardware;
}

export type DeviceLifecycleEvent =
  | { type: 'BIND'; ctx: number }
  | { type: 'UNBIND' }
  | { type: 'ATTACH'; key: 'rid' | `pasid:${number}`; hwpt: number }
  | { type: 'DETACH'; key: 'rid' | `pasid:${number}` };

/** A PCI function as the host kernel's IOMMU core tracks it (`struct device` + `dev_iommu`). */
export class KernelDevice {
  /** A host kernel driver bound to it (not VFIO): its group's DMA cannot be claimed. */
  kernelDriver: string | undefined;
  /** Interrupt remapping isolates the group's MSIs (else binding needs allow_unsafe_interrupts). */
  msiIsolated = true;
  /** The device's lifecycle machine, told about binds and attachments (control plane only). */
  notify: (event: DeviceLifecycleEvent) => void = () => {};
  /**
   * Bus mastering switched off because the IOMMU driver failed to block the device: its DMA
   * stops at the function, whatever the IOMMU's state. Cleared by the next RID attach that works.
   */
  dmaFenced = false;

  constructor(
    readonly ref: DeviceRef,
    readonly iommu: IommuInstance,
    readonly group: IommuGroup,
  ) {}

  get name(): string {
    return this.ref.name;
  }
}

/**
 * `struct iommu_group`: the unit of isolation. Its devices share one RID domain and one
 * domain per PASID; its DMA owner is a single iommufd ctx (or nobody).
 */
export class IommuGroup {
  readonly devices: KernelDevice[] = [];
  owner: object | undefined;
  ownerCount = 0;
  domain: Domain | undefined;
  readonly pasidDomains = new Map<number, Domain>();

  constructor(readonly name: string) {}
}

/**
 * The host's IOMMU core (drivers/iommu/iommu.c): groups, DMA ownership, and domain attachment
 * for whole groups, with rollback so a failed attach leaves every device where it was.
 */
export class IommuCore {
  readonly iommus = new Map<string, IommuInstance>();
  readonly devices = new Map<string, KernelDevice>();
  readonly groups = new Map<string, IommuGroup>();
  /** The kernel's WARN_ONs: driver errors on paths that cannot fail (blocking a group). */
  readonly warnings: string[] = [];

  constructor(readonly failNth: FailNth = NEVER_FAILS) {}

  group(name: string): IommuGroup {
    let g = this.groups.get(name);
    if (!g) {
      g = new IommuGroup(name);
      this.groups.set(name, g);
    }
    return g;
  }

  addDevice(dev: KernelDevice): void {
    this.devices.set(dev.name, dev);
    dev.group.devices.push(dev);
  }

  removeDevice(dev: KernelDevice): void {
    this.devices.delete(dev.name);
    const list = dev.group.devices;
    list.splice(list.indexOf(dev), 1);
  }

  /**
   * `iommu_device_claim_dma_owner`: every device of the group must be unowned or owned by the
   * same owner, and none may be driven by a host kernel driver; EBUSY otherwise.
   */
  claimDmaOwner(dev: KernelDevice, owner: object, skipCheck = false): void {
    const group = dev.group;
    if (group.ownerCount > 0) {
      if (group.owner !== owner && !skipCheck) fail('EBUSY', `group ${group.name} is owned by another ctx`);
    } else {
      const busy = group.devices.find((d) => d.kernelDriver !== undefined);
      if (busy) fail('EBUSY', `${busy.name} in group ${group.name} is bound to ${busy.kernelDriver}`);
      group.owner = owner;
    }
    group.ownerCount++;
  }

  releaseDmaOwner(dev: KernelDevice): void {
    const group = dev.group;
    if (group.ownerCount === 0) throw new Error(`release of unowned group ${group.name}`);
    if (--group.ownerCount === 0) group.owner = undefined;
  }

  /**
   * Points every device of the group at `domain` for their RID (or one PASID); on a failure the
   * devices already switched go back to the old domain and the error is rethrown.
   */
  async setGroupDomain(group: IommuGroup, pasid: number | undefined, domain: Domain): Promise<void> {
    const old = pasid === undefined ? group.domain : group.pasidDomains.get(pasid);
    if (old === domain) return;
    const done: KernelDevice[] = [];
    try {
      for (const dev of group.devices) {
        this.failNth.point('driver', pasid === undefined ? 'attach_dev' : 'set_dev_pasid');
        await domain.attachDev(dev.ref, pasid, old);
        done.push(dev);
      }
    } catch (err) {
      for (const dev of done.reverse()) {
        const back = old ?? dev.iommu.driver.blockedDomain;
        try {
          await back.attachDev(dev.ref, pasid, domain);
        } catch (undo) {
          dev.dmaFenced = true;
          this.warnings.push(`restoring ${dev.name} after a failed attach: ${String(undo)}`);
        }
      }
      throw err;
    }
    if (pasid === undefined) {
      group.domain = domain;
      for (const dev of group.devices) dev.dmaFenced = false;
    } else group.pasidDomains.set(pasid, domain);
  }

  /**
   * Back to blocking DMA (RID), or no translation at all for that PASID. Like the kernel's
   * `__iommu_group_set_domain_nofail` this cannot fail: a driver error is a WARN, every other
   * device is still blocked, and the one the driver failed on is fenced (bus mastering off), so
   * its DMA can never reach memory that its owner is about to release.
   */
  async blockGroup(group: IommuGroup, pasid: number | undefined): Promise<void> {
    const dev0 = group.devices[0];
    if (!dev0) return;
    const blocked = dev0.iommu.driver.blockedDomain;
    const old = pasid === undefined ? group.domain : group.pasidDomains.get(pasid);
    if (old === undefined || old === blocked) return;
    for (const dev of group.devices) {
      try {
        await blocked.attachDev(dev.ref, pasid, old);
      } catch (err) {
        dev.dmaFenced = true;
        this.warnings.push(
          `blocking ${dev.name}${pasid === undefined ? '' : ` PASID ${pasid}`}: ${String(err)}`,
        );
      }
    }
    if (pasid === undefined) group.domain = blocked;
    else group.pasidDomains.delete(pasid);
  }
}
