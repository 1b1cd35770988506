import type { DeviceRef, Domain } from '../driver.ts';
import type { CdTable } from './cdtab.ts';
import type { Smmuv3Features } from './features.ts';

/** `struct arm_smmu_master`: the driver's per-device state (one StreamID: the PCI RID). */
export class Master {
  readonly sid: number;
  /** min(IDR1.SSIDSIZE, the function's PASID width). */
  readonly ssidBits: number;
  cdTable: CdTable | undefined;
  /** PCI ATS is enabled on the device and the STE says EATS=TRANS. */
  atsEnabled = false;
  /** The STE points at the CD table (`cd_table.in_ste`), and with which EATS. */
  cdInSte = false;
  steAtsEnabled = false;
  /** The domain attached at the RID (undefined: never attached, i.e. the probe-time abort STE). */
  ridDomain: Domain | undefined;
  /** Stall-capable platform devices only; PCI functions use PRI instead. */
  readonly stallEnabled = false;

  constructor(
    readonly dev: DeviceRef,
    f: Smmuv3Features,
  ) {
    this.sid = dev.rid;
    this.ssidBits = dev.pasidBits > 0 ? Math.min(f.ssidBits, dev.pasidBits) : 0;
  }
}

/** `struct arm_smmu_master_domain`: a master using a domain at one SSID (0: the RID). */
export interface MasterDomain {
  readonly master: Master;
  readonly ssid: number;
}
