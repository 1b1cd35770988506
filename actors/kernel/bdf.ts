import { fail } from '../iommufd/errno.ts';

/** `dddd:bb:dd.f` (or `bb:dd.f`) → requester ID: bus << 8 | device << 3 | function. */
export function parseBdf(bdf: string): number {
  const m = /^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-1][0-9a-fA-F])\.([0-7])$/.exec(bdf);
  if (!m) fail('EINVAL', `bad PCI address '${bdf}'`);
  const bus = Number.parseInt(m[2]!, 16);
  const dev = Number.parseInt(m[3]!, 16);
  if (dev > 0x1f) fail('EINVAL', `bad PCI device number in '${bdf}'`);
  return (bus << 8) | (dev << 3) | Number(m[4]);
}

export function formatBdf(rid: number, domain = 0): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${hex(domain, 4)}:${hex(rid >> 8, 2)}:${hex((rid >> 3) & 0x1f, 2)}.${rid & 7}`;
}
