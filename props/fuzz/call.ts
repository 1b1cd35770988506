/**
 * One fuzzer call as plain data (JSON with bigints as `0x…n` strings), so a campaign's calls
 * replay, shrink and print as code. Processes are numbered; fds are the process's own numbers
 * (a closed one stays addressable: reusing it is part of the grammar).
 */
export type FuzzCall =
  /** A typed iommufd ioctl (`iommufd.ioctl(name, fields)`), pointer fields as user VAs. */
  | { k: 'ioctl'; p: number; fd: number; name: string; fields: Record<string, unknown>; payload?: Payload }
  /** A typed VFIO cdev ioctl (bind, attach/detach with or without PASID). */
  | { k: 'vfio'; p: number; fd: number; name: string; fields: Record<string, unknown> }
  /** Raw `ioctlRaw(cmd, arg)` on an iommufd or a VFIO cdev: `struct` is laid at the process's scratch VA. */
  | {
      k: 'raw';
      p: number;
      fd: number;
      cmd: number;
      /** Hex bytes placed at the scratch VA; the argument is that VA. */
      struct?: string;
      /** An integer argument instead (VFIO_SET_IOMMU, VFIO_CHECK_EXTENSION), or a bad pointer. */
      arg?: bigint | null;
      payload?: Payload;
    }
  | { k: 'open'; p: number; what: 'iommufd' }
  | { k: 'open'; p: number; what: 'vfio'; dev: string }
  | { k: 'close'; p: number; fd: number }
  | { k: 'read'; p: number; fd: number; count: number }
  | { k: 'write'; p: number; fd: number; bytes: string }
  | { k: 'poll'; p: number; fd: number }
  /** mmap of an iommufd at a vIOMMU region offset, then a read through it. */
  | { k: 'mmap'; p: number; fd: number; offset: bigint; length: bigint };

/** Bytes a call writes to process memory before it runs (a payload its pointer fields name). */
export interface Payload {
  readonly va: bigint;
  readonly bytes: string;
}

/** The name a call is counted under in a campaign's table. */
export function callLabel(c: FuzzCall): string {
  switch (c.k) {
    case 'ioctl':
      return c.name === 'IOMMU_TEST_CMD' ? `IOMMU_TEST_CMD/${testOpOf(c.fields)}` : c.name;
    case 'vfio':
      return c.name;
    case 'raw':
      return `raw 0x${c.cmd.toString(16)}`;
    case 'open':
      return c.what === 'vfio' ? 'open vfio' : 'open iommufd';
    default:
      return c.k;
  }
}

function testOpOf(fields: Record<string, unknown>): string {
  return String(fields.op ?? '?');
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** JSON of calls with bigints kept (`"0x10n"`), for reports and replay files. */
export function callsToJson(calls: readonly FuzzCall[]): string {
  return JSON.stringify(calls, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}n` : v));
}

export function callsFromJson(text: string): FuzzCall[] {
  return JSON.parse(text, (_k, v) =>
    typeof v === 'string' && /^0x[0-9a-f]+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
  ) as FuzzCall[];
}
