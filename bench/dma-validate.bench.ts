/**
 * What checking a DMA request costs on the hot path: the checks `dma()` made before option
 * validation (length, data length, PASID range) against `checkDmaRequest` (every key, type and
 * range), each alone, and a whole awaited DMA for scale.
 */
import { checkDmaRequest } from '../actors/options/dma-request.ts';
import { createFarm, type DmaRequestOptions } from '../index.ts';
import { measure, report } from './harness.ts';

/** The checks dma() had before: the baseline. */
function previousChecks(req: DmaRequestOptions, bits: number): boolean {
  if (!Number.isInteger(req.length) || req.length <= 0) return false;
  if (req.op === 'write' && req.data && req.data.length !== req.length) return false;
  return !(
    req.pasid !== undefined &&
    (!Number.isInteger(req.pasid) || req.pasid < 0 || req.pasid >= 2 ** bits)
  );
}

export async function benchDmaValidate(): Promise<void> {
  const farm = createFarm({ seed: 1 });
  const host = farm.addHost({ name: 'h0' });
  host.addIommu({ name: 'm', vendor: 'mock' });
  const dev = host.addDevice({ name: 'nic0', iommu: 'm', pasidBits: 20 });
  const reqs: DmaRequestOptions[] = [
    { op: 'read', iova: 0x1000n, length: 64 },
    { op: 'write', iova: 0x2000n, length: 8, data: new Uint8Array(8), pasid: 3 },
  ];
  let i = 0;
  const next = () => reqs[i++ & 1]!;
  const baseline = await measure('previous checks (length, data, pasid)', () => previousChecks(next(), 20), {
    batch: 10_000,
  });
  const checked = await measure(
    'checkDmaRequest (all keys, types, ranges)',
    () => checkDmaRequest(next(), 20, 'nic0'),
    {
      batch: 10_000,
    },
  );
  const whole = await measure('await dev.dma() (blocked, auto-run farm)', () => dev.dma(next()), {
    batch: 200,
  });
  report('dma() request validation', baseline, [checked, whole]);
  console.log(
    `  validation adds ${(checked.nsPerOp - baseline.nsPerOp).toFixed(0)} ns per DMA: ` +
      `${(((checked.nsPerOp - baseline.nsPerOp) / whole.nsPerOp) * 100).toFixed(2)}% of an awaited dma()`,
  );
}
