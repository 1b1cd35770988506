/**
 * The options of the farm's builder calls, checked at the API boundary: an unknown key, a wrong
 * type or an out-of-range value throws FarmOptionError naming the call, the option and what it
 * must be, before anything is built.
 */
import type { VendorName } from '../../vendors/driver.ts';
import { VENDORS } from '../../vendors/registry.ts';
import { bigintIn, bool, checkOptions, int, matches, name, oneOf } from './schema.ts';
import { VENDOR_OPTIONS } from './vendor-options.ts';

const U32_MAX = 0xffff_ffff;
const TASK_SIZE = 0x7fff_ffff_f000n;

/** Seeds feed a 32-bit PRNG state: anything else would silently alias another seed. */
export function checkFarmOptions(opts: unknown): void {
  checkOptions('createFarm', opts, { seed: int(0, U32_MAX), autoRun: bool });
}

export function checkHostOptions(opts: unknown): void {
  checkOptions(
    'farm.addHost',
    opts,
    {
      name,
      selftest: bool,
      // At least one huge page, at most a 52-bit physical address space.
      memoryBytes: bigintIn(2n << 20n, 1n << 52n, 'a bigint byte count in 2 MiB..4 PiB'),
    },
    ['name'],
  );
}

export function checkIommuOptions(host: string, opts: unknown): void {
  const entry = `${host}.addIommu`;
  const base = { name, vendor: oneOf(VENDORS) };
  if (typeof opts !== 'object' || opts === null) checkOptions(entry, opts, base);
  const { name: given, vendor } = opts as { name?: unknown; vendor?: unknown };
  // The vendor decides which other keys exist: check it first, then the whole object.
  checkOptions(entry, { name: given, vendor }, base, ['name', 'vendor']);
  checkOptions(entry, opts, { ...base, ...VENDOR_OPTIONS[vendor as VendorName] }, ['name', 'vendor']);
}

export function checkDeviceOptions(host: string, opts: unknown): void {
  checkOptions(
    `${host}.addDevice`,
    opts,
    {
      name,
      iommu: name,
      bdf: matches(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/i, "a PCI address 'dddd:bb:dd.f'"),
      group: name,
      // PCIe's PASID capability carries at most 20 bits.
      pasidBits: int(0, 20),
      ats: bool,
      pri: bool,
      flags: int(0, U32_MAX),
      kernelDriver: name,
      msiIsolated: bool,
    },
    ['name', 'iommu'],
  );
}

export function checkProcessOptions(host: string, opts: unknown): void {
  checkOptions(
    `${host}.spawnProcess`,
    opts,
    {
      name,
      memlockLimit: bigintIn(0n, TASK_SIZE, 'a bigint byte count in 0..TASK_SIZE'),
      privileged: bool,
      // (uid_t)-1 is "no user" in the kernel.
      uid: int(0, U32_MAX - 1),
    },
    ['name'],
  );
}
