import type { Farm } from '../../farm.ts';
import { IommufdError } from '../../iommufd/errno.ts';
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
} from '../../iommufd/uapi-iommufd.ts';
import { VFIO_DEVICE_ATTACH_PASID } from '../../iommufd/uapi-vfio.ts';
import type { Iommufd } from '../../iommufd-file.ts';
import type { Process } from '../../process.ts';
import type { VfioDevice } from '../../vfio/vfio-device.ts';
import type { Step } from './schema.ts';

/** What one step did: `ok` is false when the outcome was not the one expected. */
export interface StepOutcome {
  readonly index: number;
  readonly op: Step['op'];
  readonly ok: boolean;
  /** `ioas = 1`, `iova = 0x100000`, `DMA read: fault not-present`, `EINVAL as expected` ... */
  readonly detail: string;
  /** Virtual time when the step finished (ns). */
  readonly t: number;
}

export interface ScenarioOptions {
  /** Called after every step (progress lines, live charts). */
  readonly onStep?: (outcome: StepOutcome, total: number) => void;
  /** Stop at the first unexpected outcome (default true). */
  readonly stopOnFailure?: boolean;
}

type Value = Iommufd | VfioDevice | number | bigint;

/** A step that cannot run: it uses the result of a step that failed as expected. */
class MissingResult extends Error {}

function lookup<T extends Value>(results: Map<string, Value>, ref: string): T {
  const v = results.get(ref.slice(1));
  if (v === undefined) throw new MissingResult(`${ref} has no value: the step that makes it failed`);
  return v as T;
}

function qualified<T>(
  farm: Farm,
  name: string,
  get: (host: ReturnType<Farm['hosts']>[number], n: string) => T,
): T {
  const slash = name.indexOf('/');
  if (slash >= 0) return get(farm.host(name.slice(0, slash)), name.slice(slash + 1));
  for (const host of farm.hosts()) {
    try {
      return get(host, name);
    } catch {
      // not on this host
    }
  }
  return get(farm.hosts()[0]!, name);
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

/** Runs one step; returns what to print, or throws the IommufdError the kernel returned. */
async function execute(farm: Farm, step: Step, results: Map<string, Value>): Promise<string> {
  const addr = (v: bigint | string) => (typeof v === 'string' ? lookup<bigint>(results, v) : v);
  switch (step.op) {
    case 'open': {
      const proc = qualified<Process>(farm, step.args.process, (h, n) => h.process(n));
      const fd = proc.openIommufd();
      results.set(step.args.as, fd);
      return `${step.args.as} = iommufd fd ${fd.fd} in ${proc.name}`;
    }
    case 'ioas-alloc': {
      const { out_ioas_id } = await lookup<Iommufd>(results, step.args.iommufd).ioctl('IOMMU_IOAS_ALLOC', {});
      results.set(step.args.as, Number(out_ioas_id));
      return `${step.args.as} = IOAS ${out_ioas_id}`;
    }
    case 'bind': {
      const ictx = lookup<Iommufd>(results, step.args.iommufd);
      const name = step.args.device.slice(step.args.device.indexOf('/') + 1);
      const vdev = ictx.process.openVfioDevice(name);
      const { out_devid } = await vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: ictx.fd });
      results.set(step.args.as, vdev);
      return `${step.args.as} = ${name} bound, devid ${out_devid}`;
    }
    case 'attach': {
      const pt = lookup<number>(results, step.args.pt);
      const pasid = step.args.pasid;
      await lookup<VfioDevice>(results, step.args.device).ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', {
        flags: pasid === undefined ? 0 : VFIO_DEVICE_ATTACH_PASID,
        pt_id: pt,
        pasid: pasid ?? 0,
      });
      return `attached to ${pt}${pasid === undefined ? '' : ` on PASID ${pasid}`}`;
    }
    case 'detach': {
      const pasid = step.args.pasid;
      await lookup<VfioDevice>(results, step.args.device).ioctl('VFIO_DEVICE_DETACH_IOMMUFD_PT', {
        flags: pasid === undefined ? 0 : VFIO_DEVICE_ATTACH_PASID,
        pasid: pasid ?? 0,
      });
      return 'detached';
    }
    case 'mmap': {
      const proc = qualified<Process>(farm, step.args.process, (h, n) => h.process(n));
      const va = proc.mmap(step.args.length, step.args.align === undefined ? {} : { align: step.args.align });
      results.set(step.args.as, va);
      return `${step.args.as} = va ${hex(va)}`;
    }
    case 'fill': {
      const proc = qualified<Process>(farm, step.args.process, (h, n) => h.process(n));
      proc.write(addr(step.args.va), new Uint8Array(Number(step.args.length)).fill(step.args.byte));
      return `${step.args.length} bytes of ${hex(step.args.byte)}`;
    }
    case 'map': {
      const { iommufd, ioas, va, length, iova, prot } = step.args;
      const flags =
        (prot.includes('r') ? IOMMU_IOAS_MAP_READABLE : 0) |
        (prot.includes('w') ? IOMMU_IOAS_MAP_WRITEABLE : 0) |
        (iova === undefined ? 0 : IOMMU_IOAS_MAP_FIXED_IOVA);
      const out = await lookup<Iommufd>(results, iommufd).ioctl('IOMMU_IOAS_MAP', {
        flags,
        ioas_id: lookup<number>(results, ioas),
        user_va: addr(va),
        length,
        ...(iova === undefined ? {} : { iova: addr(iova) }),
      });
      const at = BigInt(out.iova as bigint | number);
      if (step.args.as !== undefined) results.set(step.args.as, at);
      return `${step.args.as ?? 'iova'} = iova ${hex(at)}`;
    }
    case 'unmap': {
      const { iommufd, ioas, iova, length } = step.args;
      await lookup<Iommufd>(results, iommufd).ioctl('IOMMU_IOAS_UNMAP', {
        ioas_id: lookup<number>(results, ioas),
        iova: addr(iova),
        length,
      });
      return `unmapped ${hex(addr(iova))}+${hex(length)}`;
    }
    case 'dma': {
      const dev = qualified(farm, step.args.device, (h, n) => h.device(n));
      const r = await dev.dma({
        op: step.args.op,
        iova: addr(step.args.iova),
        length: step.args.length,
        ...(step.args.pasid === undefined ? {} : { pasid: step.args.pasid }),
      });
      if (!r.ok) return `fault ${r.fault.reason}`;
      const head = r.data
        ? ` [${[...r.data.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}]`
        : '';
      return `ok${head}`;
    }
    case 'close': {
      const handle = lookup<Iommufd | VfioDevice>(results, step.args.fd);
      await handle.close();
      return `closed fd ${handle.fd}`;
    }
    case 'settle':
      await farm.settle();
      return `idle at ${farm.now} ns`;
  }
}

/** Did a step's outcome (its detail, or an errno) meet its `expect`? */
function judge(step: Step, detail: string, errno: string | undefined): { ok: boolean; detail: string } {
  const expect = (step.args as { expect?: string }).expect;
  if (step.op === 'dma') {
    if (errno) return { ok: false, detail };
    const fault = detail.startsWith('fault') ? detail.slice('fault '.length) : undefined;
    if (expect === undefined) return { ok: true, detail };
    const met =
      expect === 'ok' ? fault === undefined : expect === 'fault' ? fault !== undefined : fault === expect;
    return { ok: met, detail: met ? detail : `${detail}, expected ${expect}` };
  }
  if (errno === undefined) {
    return expect === undefined
      ? { ok: true, detail }
      : { ok: false, detail: `${detail}, expected ${expect}` };
  }
  if (expect === errno) return { ok: true, detail: `${errno} as expected` };
  return { ok: false, detail: expect ? `${detail}, expected ${expect}` : detail };
}

/**
 * Runs a topology's scenario on a farm built from it, one step after the other, each awaited.
 * A step whose outcome differs from its `expect` (by default: success) fails the scenario.
 */
export async function runScenario(
  farm: Farm,
  steps: readonly Step[],
  opts: ScenarioOptions = {},
): Promise<StepOutcome[]> {
  const results = new Map<string, Value>();
  const outcomes: StepOutcome[] = [];
  for (const [index, step] of steps.entries()) {
    let detail = '';
    let errno: string | undefined;
    try {
      detail = await execute(farm, step, results);
    } catch (err) {
      if (err instanceof MissingResult) errno = 'no result';
      else if (!(err instanceof IommufdError)) throw err;
      else errno = err.errno;
      detail = (err as Error).message;
    }
    const verdict = judge(step, detail, errno);
    const outcome: StepOutcome = { index, op: step.op, ...verdict, t: farm.now };
    outcomes.push(outcome);
    opts.onStep?.(outcome, steps.length);
    if (!outcome.ok && (opts.stopOnFailure ?? true)) break;
  }
  await farm.settle();
  return outcomes;
}
