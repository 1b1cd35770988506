/**
 * What checking a DMA request costs on the hot path: the checks `dma()` made before option
 * validation (length, data length, PASID range) against `checkDmaRequest` (every key, type and
 * range), and a whole awaited DMA for scale.
 */
import { checkDmaRequest } from '../actors/options/dma-request.ts';
import { createFarm, type DmaRequestOptions } from '../index.ts';
import type { BenchSuite } from './harness.ts';

/** The checks dma() had before: the baseline. */
function previousChecks(req: DmaRequestOptions, bits: number): boolean {
  if (!Number.isInteger(req.length) || req.length <= 0) return false;
  if (req.op === 'write' && req.data && req.data.length !== req.length) return false;
  return !(
    req.pasid !== undefined &&
    (!Number.isInteger(req.pasid) || req.pasid < 0 || req.pasid >= 2 ** bits)
  );
}

export const dmaValidate: BenchSuite = {
  name: 'dma-validate',
  title: 'dma() request validation',
  // The baseline is ~4 ns of inlined checks: its ratio swings by a third from process to process.
  gated: false,
  async prepare() {
    const farm = createFarm({ seed: 1 });
    const host = farm.addHost({ name: 'h0' });
    host.addIommu({ name: 'm', vendor: 'mock' });
    const dev = host.addDevice({ name: 'nic0', iommu: 'm', pasidBits: 20 });
    const reqs: DmaRequestOptions[] = [
      { op: 'read', iova: 0x1000n, length: 64 },
      { op: 'write', iova: 0x2000n, length: 8, data: new Uint8Array(8), pasid: 3 },
    ];
    let i = 0;
    const next = () => reqs[i++ & 1] as DmaRequestOptions;
    const batch = 10_000;
    const dmaBatch = 50;
    return {
      baseline: {
        name: 'previous checks (length, data, pasid)',
        fn: () => {
          for (let j = 0; j < batch; j++) previousChecks(next(), 20);
        },
        batch,
      },
      cases: [
        {
          name: 'checkDmaRequest (all keys, types, ranges)',
          fn: () => {
            for (let j = 0; j < batch; j++) checkDmaRequest(next(), 20, 'nic0');
          },
          batch,
        },
        {
          name: 'await dev.dma() (blocked, auto-run farm)',
          fn: async () => {
            for (let j = 0; j < dmaBatch; j++) await dev.dma(next());
          },
          batch: dmaBatch,
        },
      ],
    };
  },
  summarize(rows) {
    const [base, checked, whole] = rows;
    if (!base || !checked || !whole) return [];
    const added = checked.nsPerOp - base.nsPerOp;
    return [
      `validation adds ${added.toFixed(0)} ns per DMA: ${((added / whole.nsPerOp) * 100).toFixed(2)}% of an awaited dma()`,
    ];
  },
};
