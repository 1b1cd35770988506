/**
 * Every script in examples/ runs as a user would run it (`npm run example <file>`: tsx, with
 * 'iommu-farm' resolving to this checkout's source) and prints what its comments promise.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');
const EXAMPLES = join(REPO, 'examples');
const RUN_MS = 150_000;

async function example(name: string): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ['--conditions=iommu-farm:source', '--import', 'tsx', join(EXAMPLES, name)],
    { cwd: REPO },
  );
  return stdout;
}

/** What each example must print; a new example without an entry here fails the first test. */
const EXPECTED: Record<string, readonly RegExp[]> = {
  '01-map-dma-unmap.ts': [
    /^mapped 65536 bytes at IOVA 0x[0-9a-f]+$/m,
    /^DMA read: "hello, device"$/m,
    /^DMA after unmap: fault not-present$/m,
    /^unmap again: ENOENT \(2\)$/m,
  ],
  '02-vtd-shared-group.ts': [
    /^gpu0\.0 reads IOVA 0x[0-9a-f]+: 0xaa$/m,
    /^gpu0\.1 reads IOVA 0x[0-9a-f]+: 0xaa$/m,
    /^gpu0\.1 attach to IOAS 2: EINVAL$/m,
    /^gpu0\.1 attached to HWPT \d+ as well$/m,
    /^gpu0\.0 reads IOVA 0x[0-9a-f]+: blocked$/m,
  ],
  '03-fault-queue.ts': [
    /^fault fd \d+: poll empty$/m,
    /^after two page requests: poll readable$/m,
    /^fault: dev_id \d+ pasid 7 grpid 1 addr 0x1000 cookie 1\n {2}answered: wrote 8 bytes$/m,
    /^fault: dev_id \d+ pasid 7 grpid 2 addr 0x2000 cookie 2\n {2}answered: wrote 8 bytes$/m,
    /^queue drained: poll empty$/m,
  ],
  '04-props-campaign.ts': [
    /^isolation +intel-vtd +10 runs +pass$/m,
    /^no-stale +mock +10 runs +pass$/m,
    /^group-ownership +intel-vtd +10 runs +pass$/m,
    /^with \w+ on: no-stale broke, shrunk to \d+ steps$/m,
  ],
  '05-replay-repro.ts': [
    /^no-stale on arm-smmuv3 broke after \d+ runs; shrunk to \d+ commands:$/m,
    /^replay: no-stale$/m,
    /^wrote no-stale-arm-smmuv3-5\.ts \(\d+ lines\)$/m,
    /^replayed from the file \(seed 5\): fails again, \d+ commands$/m,
  ],
};

describe('examples/', () => {
  test('every example has its expected output listed here', () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.ts'));
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  test.each(Object.entries(EXPECTED))(
    '%s',
    async (name, lines) => {
      const out = await example(name);
      for (const line of lines) expect(out).toMatch(line);
      // No campaign cell may end in a failed verdict.
      expect(out).not.toMatch(/ fail$/m);
    },
    RUN_MS,
  );
});
