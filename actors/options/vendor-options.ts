/**
 * The vendor options `host.addIommu` accepts, per vendor. Each shape `satisfies` the vendor's
 * options interface key for key, so an option added to a vendor without a checker here (or a
 * checker for an option the vendor does not read) fails to typecheck.
 */
import type { AmdViOptions } from '../../vendors/amd-vi/options.ts';
import type { Smmuv3Options } from '../../vendors/arm-smmuv3/features.ts';
import type { VendorName } from '../../vendors/driver.ts';
import type { VtdOptions } from '../../vendors/intel-vtd/index.ts';
import type { VtdFeatures } from '../../vendors/intel-vtd/regs.ts';
import { bigintIn, bool, int, oneOf, type Shape, type Spec } from './schema.ts';

const U64_MAX = (1n << 64n) - 1n;
const ns = int(0, 1e12);
const count = int(1, 1 << 24);

const AMD_VI = {
  efr: bigintIn(0n, U64_MAX, 'a 64-bit bigint register value'),
  efr2: bigintIn(0n, U64_MAX, 'a 64-bit bigint register value'),
  hostLevels: int(4, 6),
  guestLevels: int(4, 5),
  dirty: bool,
  pasid: bool,
  invalidateAll: bool,
  pasidBits: int(1, 20),
  npCache: bool,
  ats: bool,
  pgtable: oneOf(['v1', 'v2']),
  cmdNs: ns,
  linkNs: ns,
  iotlbEntries: count,
  deviceIds: int(1, 0x10000),
} as const satisfies Record<keyof AmdViOptions, Spec>;

const ARM_SMMUV3 = {
  sidBits: int(0, 32),
  ssidBits: int(0, 20),
  twoLevelStrtab: bool,
  cd2l: bool,
  stage1: bool,
  stage2: bool,
  ats: bool,
  pri: bool,
  hyp: bool,
  ril: bool,
  httu: oneOf([0, 1, 2]),
  msi: bool,
  sev: bool,
  coherent: bool,
  stall: bool,
  oas: oneOf([32, 36, 40, 42, 44, 48]),
  cmdqLog2: int(1, 19),
  evtqLog2: int(1, 19),
  priqLog2: int(1, 19),
  cmdNs: ns,
  atcLatencyNs: ns,
  atcTimeoutNs: ns,
  iotlbCapacity: count,
  strictTtl: bool,
  msiPoll: bool,
} as const satisfies Record<keyof Smmuv3Options, Spec>;

const INTEL_VTD = {
  ssads: bool,
  nest: bool,
  fsts: bool,
  prs: bool,
  dt: bool,
  pasidBits: int(0, 20),
  sllps: int(0, 3),
  fs1gp: bool,
  nfr: int(1, 256),
  mamv: int(0, 63),
  descNs: ns,
  linkNs: ns,
  atcTimeoutNs: ns,
  firstStage: bool,
  errata772415: bool,
  pollNs: ns,
  prqOrder: int(0, 10),
  iotlbEntries: count,
} as const satisfies Record<keyof VtdOptions | keyof VtdFeatures, Spec>;

/** Per vendor, the options beside `name` and `vendor`; the mock takes none. */
export const VENDOR_OPTIONS: Readonly<Record<VendorName, Shape>> = {
  mock: {},
  'intel-vtd': INTEL_VTD,
  'arm-smmuv3': ARM_SMMUV3,
  'amd-vi': AMD_VI,
  'power-tce': {},
};
