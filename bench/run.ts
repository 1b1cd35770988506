/** `npm run bench [name…]`: runs the benchmarks (all by default) and prints ratio tables. */
import { benchCmdq } from './cmdq.bench.ts';
import { benchDmaValidate } from './dma-validate.bench.ts';
import { benchIoasMap } from './ioas-map.bench.ts';
import { benchIoctlNoop } from './ioctl-noop.bench.ts';
import { benchTranslate } from './translate.bench.ts';

const benches: Record<string, () => Promise<void>> = {
  'ioctl-noop': benchIoctlNoop,
  'ioas-map': benchIoasMap,
  translate: benchTranslate,
  cmdq: benchCmdq,
  'dma-validate': benchDmaValidate,
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(benches)) {
  if (wanted.length === 0 || wanted.includes(name)) await run();
}
