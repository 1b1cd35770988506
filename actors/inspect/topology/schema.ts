import { z } from 'zod';
import { VENDORS } from '../../../vendors/registry.ts';
import { ERRNO } from '../../iommufd/errno.ts';
import { parseSize } from './size.ts';

const name = z
  .string()
  .regex(/^[A-Za-z_][\w.-]*$/, 'a name: letters, digits, _ . - (not starting with a digit)');
const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a size like 4096, "0x1000", "64KiB" or "1GiB", got ${JSON.stringify(v)}`,
    });
    return z.NEVER;
  }
  return n;
});
const bdf = z
  .string()
  .regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/, 'a PCI address dddd:bb:dd.f');
/** `$name`: the result of an earlier step. */
const ref = z.string().regex(/^\$[A-Za-z_][\w-]*$/, 'a reference to an earlier result: $name');
const sizeOrRef = z.union([ref, size]);
const errno = z.enum(Object.keys(ERRNO) as [string, ...string[]]);

export const iommuSchema = z.strictObject({
  name,
  vendor: z.enum(VENDORS as [string, ...string[]]),
  /** Vendor feature options (`host.addIommu({ name, vendor, ...options })`); bigints as `0x…n`. */
  options: z.record(z.string(), z.union([z.boolean(), z.number(), z.string()])).optional(),
});

export const deviceSchema = z.strictObject({
  name,
  iommu: name,
  bdf: bdf.optional(),
  group: name.optional(),
  pasidBits: z.number().int().min(0).max(20).optional(),
  ats: z.boolean().optional(),
  pri: z.boolean().optional(),
  flags: z.number().int().min(0).optional(),
  kernelDriver: z.string().optional(),
  msiIsolated: z.boolean().optional(),
});

export const processSchema = z.strictObject({
  name,
  /** RLIMIT_MEMLOCK; unlimited when absent. */
  memlock: size.optional(),
  privileged: z.boolean().optional(),
  uid: z.number().int().min(0).optional(),
});

export const hostSchema = z.strictObject({
  name,
  selftest: z.boolean().optional(),
  memory: size.optional(),
  iommus: z.array(iommuSchema).default([]),
  devices: z.array(deviceSchema).default([]),
  processes: z.array(processSchema).default([]),
});

/** The arguments of each scenario step, keyed by the step's one key. `as` names its result. */
export const stepSchemas = {
  /** open("/dev/iommu") in a process: an iommufd. */
  open: z.strictObject({ process: z.string(), as: name }),
  /** IOMMU_IOAS_ALLOC: the IOAS id. */
  'ioas-alloc': z.strictObject({ iommufd: ref, as: name, expect: errno.optional() }),
  /** open the device's VFIO cdev in the iommufd's process, VFIO_DEVICE_BIND_IOMMUFD. */
  bind: z.strictObject({ iommufd: ref, device: z.string(), as: name, expect: errno.optional() }),
  /** VFIO_DEVICE_ATTACH_IOMMUFD_PT to an IOAS (or HWPT) id. */
  attach: z.strictObject({
    device: ref,
    pt: ref,
    pasid: z.number().int().min(0).optional(),
    expect: errno.optional(),
  }),
  detach: z.strictObject({
    device: ref,
    pasid: z.number().int().min(0).optional(),
    expect: errno.optional(),
  }),
  /** mmap anonymous memory: its VA. */
  mmap: z.strictObject({ process: z.string(), length: size, align: size.optional(), as: name }),
  /** Fills process memory with one byte value, so DMA reads show something. */
  fill: z.strictObject({
    process: z.string(),
    va: sizeOrRef,
    length: size,
    byte: z.number().int().min(0).max(255),
    expect: errno.optional(),
  }),
  /** IOMMU_IOAS_MAP: the IOVA (fixed when `iova` is given, else the kernel picks). */
  map: z.strictObject({
    iommufd: ref,
    ioas: ref,
    va: sizeOrRef,
    length: size,
    iova: sizeOrRef.optional(),
    prot: z.enum(['r', 'w', 'rw']).default('rw'),
    as: name.optional(),
    expect: errno.optional(),
  }),
  unmap: z.strictObject({ iommufd: ref, ioas: ref, iova: sizeOrRef, length: size, expect: errno.optional() }),
  /** A DMA from the device; `expect` is ok, fault, or the fault reason (not-present, blocked ...). */
  dma: z.strictObject({
    device: z.string(),
    op: z.enum(['read', 'write']),
    iova: sizeOrRef,
    length: z.number().int().positive(),
    pasid: z.number().int().min(0).optional(),
    expect: z.string().optional(),
  }),
  /** close() an iommufd or a VFIO device fd. */
  close: z.strictObject({ fd: ref, expect: errno.optional() }),
  /** Lets virtual time run until nothing is pending. */
  settle: z.strictObject({}),
} as const;

export type StepOp = keyof typeof stepSchemas;
export const STEP_OPS = Object.keys(stepSchemas) as StepOp[];

/** One validated step: its op and parsed arguments. */
export type Step = { [K in StepOp]: { op: K; args: z.output<(typeof stepSchemas)[K]> } }[StepOp];

/** What each named result holds, so a reference can be checked against where it is used. */
export const RESULT_KIND: Partial<Record<StepOp, 'iommufd' | 'ioas' | 'vfio' | 'va' | 'iova'>> = {
  open: 'iommufd',
  'ioas-alloc': 'ioas',
  bind: 'vfio',
  mmap: 'va',
  map: 'iova',
};

/** The reference fields of each op and the kinds of result they accept. */
export const REF_KINDS: Record<string, readonly string[]> = {
  iommufd: ['iommufd'],
  ioas: ['ioas'],
  pt: ['ioas'],
  device: ['vfio'],
  fd: ['iommufd', 'vfio'],
  va: ['va'],
  iova: ['iova'],
};

export const topologySchema = z.strictObject({
  /** Format version of the file; 1 today. */
  version: z.literal(1).default(1),
  seed: z.number().int().min(0).optional(),
  hosts: z.array(hostSchema).min(1),
  /** Steps, each an object with one key (the op); validated per op after the rest. */
  scenario: z.array(z.record(z.string(), z.unknown())).optional(),
});

export type HostSpec = z.output<typeof hostSchema>;
export type IommuSpec = z.output<typeof iommuSchema>;
export type DeviceSpec = z.output<typeof deviceSchema>;
export type ProcessSpec = z.output<typeof processSchema>;

/** A farm as data: what `loadTopology` builds and `farm.toTopology()` returns. */
export interface Topology {
  readonly version: 1;
  readonly seed?: number;
  readonly hosts: readonly HostSpec[];
  readonly scenario?: readonly Step[];
}
