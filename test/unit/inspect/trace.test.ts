import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parseTopology } from '../../../actors/inspect/topology/parse.ts';
import { traceHash } from '../../../actors/inspect/trace/hash.ts';
import { decodeJson, encodeJson } from '../../../actors/inspect/trace/jsonl.ts';
import { recordRun } from '../../../actors/inspect/trace/record.ts';
import { replayTrace } from '../../../actors/inspect/trace/replay.ts';
import { toSequenceDiagram } from '../../../actors/inspect/trace/sequence.ts';
import {
  readTrace,
  TRACE_FORMAT_VERSION,
  TraceError,
  traceText,
} from '../../../actors/inspect/trace/trace-file.ts';
import pkg from '../../../package.json' with { type: 'json' };

const topology = parseTopology(
  readFileSync(new URL('../../../topologies/intel-vtd.yaml', import.meta.url), 'utf8'),
);

async function recorded(seed?: number) {
  const run = await recordRun(topology, seed === undefined ? {} : { seed });
  return { run, text: traceText(run.header, run.lines) };
}

function traceErrorOf(text: string): TraceError {
  try {
    readTrace(text, 't.jsonl');
  } catch (err) {
    expect(err).toBeInstanceOf(TraceError);
    return err as TraceError;
  }
  throw new Error('read');
}

describe('JSONL traces', () => {
  test('bigints survive exactly; a string that looks like one stays a string', () => {
    const value = { iova: (1n << 63n) + 5n, label: '10n', nested: [{ count: 0n }] };
    expect(decodeJson(encodeJson(value))).toEqual(value);
  });

  test('the header holds format version, package version, topology and seed; every event has virtual time', async () => {
    const { run, text } = await recorded(5);
    const lines = text.trimEnd().split('\n');
    const header = JSON.parse(lines[0]!);
    expect(header).toMatchObject({
      format: 'iommu-farm-trace',
      version: TRACE_FORMAT_VERSION,
      package: pkg.version,
      seed: 5,
    });
    expect(parseTopology(JSON.stringify(header.topology))).toEqual(topology);
    expect(lines.length - 1).toBe(run.events.length);
    const events = lines.slice(1).map((l) => JSON.parse(l));
    expect(events.every((e) => typeof e.t === 'number' && typeof e.type === 'string')).toBe(true);
    expect(events.map((e) => e.t)).toEqual([...events.map((e) => e.t)].sort((a, b) => a - b));
    expect(new Set(events.map((e) => e.type))).toEqual(
      new Set(['actor.transition', 'ioctl', 'cmd', 'fabric.deliver', 'dma']),
    );
    const dma = readTrace(text).events.find((e) => e.type === 'dma');
    expect(dma).toMatchObject({ iova: 0x10000n });
  });

  test('replay reproduces the recorded events', async () => {
    const { text } = await recorded();
    const result = await replayTrace(readTrace(text));
    expect(result).toEqual({ ok: true, recorded: result.replayed, replayed: result.replayed });
    expect(result.replayed).toBeGreaterThan(50);
  });

  test('replay reports the first divergence of a tampered trace', async () => {
    const { text } = await recorded();
    const lines = text.trimEnd().split('\n');
    const at = lines.findIndex((l) => l.includes('"type":"dma"'));
    lines[at] = lines[at]!.replace('"length":64', '"length":65');
    const result = await replayTrace(readTrace(lines.join('\n')));
    expect(result.ok).toBe(false);
    expect(result.divergence?.event).toBe(at);
    expect(result.divergence?.expected).toContain('"length":65');
    expect(result.divergence?.actual).toContain('"length":64');
  });

  test('a different seed of the same topology is a different header, the same scenario outcome', async () => {
    const a = await recorded(1);
    const b = await recorded(1);
    expect(traceHash(a.run.lines)).toBe(traceHash(b.run.lines));
    const c = await recorded(2);
    expect(c.run.header.seed).toBe(2);
    expect(c.run.outcomes.every((o) => o.ok)).toBe(true);
  });

  test('another format version, another format, or a broken line is refused in one line', async () => {
    const { text } = await recorded();
    const future = text.replace(`"version":${TRACE_FORMAT_VERSION}`, '"version":99');
    const err = traceErrorOf(future);
    expect(err.message).toMatch(/^t\.jsonl:1: trace format version 99 .* reads version 1$/);
    expect(traceErrorOf('{"hello":1}\n').message).toBe(
      't.jsonl:1: not an iommu-farm-trace file (no "format": "iommu-farm-trace" header)',
    );
    expect(traceErrorOf('').line).toBe(1);
    const broken = `${text.split('\n').slice(0, 3).join('\n')}\n{oops\n`;
    expect(traceErrorOf(broken).line).toBe(4);
  });

  test('a trace renders as a Mermaid sequenceDiagram with one lifeline per actor', async () => {
    const { run } = await recorded();
    const diagram = toSequenceDiagram(run.header, run.events);
    const lines = diagram.trimEnd().split('\n');
    expect(lines[0]).toBe('sequenceDiagram');
    const participants = lines.filter((l) => l.startsWith('  participant '));
    const names = participants.map((l) => l.replace(/^ {2}participant p\d+ as /, ''));
    expect(new Set(names).size).toBe(names.length);
    for (const actor of ['h0', 'h0/vtd0', 'h0/vtd0/qi', 'h0/nic0', 'h0/vmm', 'iommufd ctx 1'])
      expect(names).toContain(actor);
    const id = (name: string) => participants.find((l) => l.endsWith(` as ${name}`))!.split(' ')[3];
    expect(diagram).toContain(`${id('h0/nic0')}->>${id('h0/vtd0')}: 840ns DMA read 0x10000+64: ok`);
    expect(diagram).toContain(
      `${id('h0/nic0')}-x${id('h0/vtd0')}: 2280ns DMA read 0x10000+64: fault not-present`,
    );
    expect(diagram).toContain(`${id('h0/vmm')}->>${id('iommufd ctx 1')}: 600ns IOMMU_IOAS_MAP (ctx 1)`);
    const messages = lines.length - 1 - participants.length;
    expect(messages).toBe(run.events.length);
    expect(toSequenceDiagram(run.header, run.events, { limit: 10 })).toContain(
      `… ${run.events.length - 10} more events`,
    );
  });
});
