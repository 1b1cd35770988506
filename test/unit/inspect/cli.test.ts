import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';

// Each case starts the CLI (tsx, then a farm) a few times: seconds each on a loaded machine.
vi.setConfig({ testTimeout: 180_000 });

const ROOT = new URL('../../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'iommu-farm-cli-'));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bin/iommu-farm.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Bad input: exit 2, exactly one line on stderr, no stack. */
function expectBadInput(r: ReturnType<typeof cli>, pattern: RegExp) {
  expect(r.status).toBe(2);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
}

describe('iommu-farm run / replay', () => {
  const trace = join(dir, 'mock.jsonl');

  test('run prints the events, records a trace, and replay reproduces it', () => {
    const run = cli('run', 'topologies/mock.yaml', '--record', trace);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('── step 8/12 dma: ok [a5 a5 a5 a5 a5 a5 a5 a5]');
    expect(run.stdout).toMatch(/DMA read 0x1000000\+32: ok/);
    expect(run.stdout).toMatch(/12\/12 steps run, 0 unexpected; \d+ events/);
    const replay = cli('replay', trace);
    expect(replay.status).toBe(0);
    expect(replay.stdout).toMatch(/replayed \d+ events with seed 1: identical/);
  });

  test('a diverging replay exits 1 and shows both lines', () => {
    const lines = readFileSync(trace, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes('"type":"dma"'));
    lines[at] = lines[at]!.replace('"ok":true', '"ok":false');
    const tampered = join(dir, 'tampered.jsonl');
    writeFileSync(tampered, lines.join('\n'));
    const r = cli('replay', tampered);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`diverges at event ${at} (line ${at + 1})`);
    expect(r.stdout).toMatch(/recorded: .*"ok":false/);
    expect(r.stdout).toMatch(/replayed: .*"ok":true/);
  });

  test('bad input is one line and exit 2', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'hosts:\n  - name: h0\n    colour: blue\n');
    expectBadInput(cli('run', bad), /^iommu-farm: .*bad\.yaml:3:5: hosts\.0: unknown key "colour"/);
    expectBadInput(cli('run', join(dir, 'missing.yaml')), /missing\.yaml: no such file/);
    const future = join(dir, 'future.jsonl');
    writeFileSync(future, readFileSync(trace, 'utf8').replace('"version":1', '"version":2'));
    expectBadInput(cli('replay', future), /future\.jsonl:1: trace format version 2/);
  });
});

describe('iommu-farm chart', () => {
  test('a machine type as Mermaid, a live actor as JSON, a PNG file', () => {
    const m = cli('chart', 'cmdq');
    expect(m.status).toBe(0);
    expect(m.stdout).toContain('s_cmdq_halted --> s_cmdq_consuming : ACK_ERROR / clearError');
    const live = cli(
      'chart',
      'h0/nic0',
      '--topology',
      'topologies/intel-vtd.yaml',
      '--steps',
      '4',
      '--format',
      'json',
    );
    expect(live.status).toBe(0);
    expect(JSON.parse(live.stdout).live.active).toEqual(['device', 'device.attached']);
    const png = join(dir, 'qi.png');
    const r = cli('chart', 'intel-vtd.qi', '--format', 'png', '--out', png);
    expect(r.status).toBe(0);
    expect([...readFileSync(png).subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]);
  });

  test('bad input is one line and exit 2', () => {
    expectBadInput(cli('chart', 'nope'), /no machine type "nope" .*needs --topology/);
    expectBadInput(
      cli('chart', 'device', '--format', 'gif'),
      /--format gif: expected one of mermaid, dot, svg, png, json/,
    );
  });
});
