import type { VendorName } from '../../vendors/driver.ts';
import { callLabel, type FuzzCall } from './call.ts';
import type { DmaCheck } from './oracle.ts';

/**
 * What a campaign reports:
 * - `escape`: a DMA reached memory its attachment does not map (or a freed page, or another
 *   process's memory);
 * - `missing`: a DMA faulted at an IOVA its domain maps with that permission;
 * - `exception`: a call threw something other than an IommufdError;
 * - `errno`: an IommufdError with an errno or code Linux does not have;
 * - `atomicity`: a failed call changed a ctx's observable state;
 * - `hang`: a call did not settle within the step / virtual-time bound (or the wall-clock one).
 */
export type FindingKind = 'escape' | 'missing' | 'exception' | 'errno' | 'atomicity' | 'hang';

export interface Finding {
  readonly kind: FindingKind;
  readonly vendor: VendorName;
  /** Index of the call after which it showed (in the call list that was run). */
  readonly at: number;
  readonly label: string;
  readonly message: string;
  readonly dma?: DmaCheck;
}

/** What two findings must share to be the same bug (shrinking keeps it; campaigns dedupe on it). */
export function signature(f: Finding): string {
  if (f.kind === 'escape' || f.kind === 'missing') return `${f.kind}:${f.dma?.verdict}:${f.vendor}`;
  const head = f.message
    .replace(/0x[0-9a-f]+n?/gi, '#')
    .replace(/\d+/g, '#')
    .slice(0, 60);
  return `${f.kind}:${f.label}:${f.vendor}:${head}`;
}

/**
 * The findings already reported and being fixed, recognised so a campaign says which are new:
 * returns their name, or undefined for a new one.
 */
export function knownFinding(f: Finding, calls: readonly FuzzCall[]): string | undefined {
  const used = (pred: (c: FuzzCall) => boolean) => calls.slice(0, f.at + 1).some(pred);
  if (
    f.kind === 'escape' &&
    f.vendor === 'arm-smmuv3' &&
    f.dma?.verdict === 'permission' &&
    used((c) => c.k === 'raw' && c.cmd === 0x3b71)
  ) {
    return 'known: SMMUv3 maps a no-permission VFIO MAP_DMA as RW';
  }
  if (
    f.vendor === 'amd-vi' &&
    (f.kind === 'exception' || f.kind === 'atomicity') &&
    used((c) => (c.k === 'vfio' && (c.fields.flags as number) & 1 && c.fields.pasid === 0) as boolean)
  ) {
    return 'known: AMD accepts PASID 0 attach and throws on close';
  }
  if (
    (f.vendor === 'amd-vi' || f.vendor === 'intel-vtd') &&
    f.kind === 'escape' &&
    f.dma?.verdict === 'unbacked'
  ) {
    return 'maybe known: AMD v2 / VT-d large page over a freed small-page table (check the script)';
  }
  if (f.kind === 'hang' && used((c) => c.k === 'ioctl' && c.fields.size === 0xffff_ffff)) {
    return 'known: typed call with size 0xffffffff hangs';
  }
  return undefined;
}

export function describeFinding(f: Finding, calls: readonly FuzzCall[]): string {
  const known = knownFinding(f, calls);
  return `${f.kind} on ${f.vendor} after call ${f.at} (${f.label}): ${f.message}${known ? ` [${known}]` : ' [NEW]'}`;
}

export { callLabel };
