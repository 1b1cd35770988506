import { writeFileSync } from 'node:fs';
import { TopologyError } from '../actors/inspect/topology/parse.ts';
import { formatEvent } from '../actors/inspect/trace/describe.ts';
import { traceHash } from '../actors/inspect/trace/hash.ts';
import { replayTrace } from '../actors/inspect/trace/replay.ts';
import { toSequenceDiagram } from '../actors/inspect/trace/sequence.ts';
import { readTrace, TraceError } from '../actors/inspect/trace/trace-file.ts';
import { badInput, intOption, parseCommandLine } from './cli-error.ts';
import { readText } from './read-input.ts';

export const REPLAY_USAGE = `usage: iommu-farm replay <trace.jsonl> [--format check|text|mermaid] [--limit n] [--out file]
  check (default): rebuild the farm from the trace's header, run it again, report the first divergence
  text: print the recorded events; mermaid: a sequenceDiagram with one lifeline per actor`;

/** `iommu-farm replay <trace>`: exit 0 when the replay reproduces the trace, 1 when it diverges, 2 on bad input. */
export async function replayCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      limit: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(REPLAY_USAGE);
  if (positionals.length !== 1) badInput(`replay takes one trace file (${REPLAY_USAGE.split('\n')[0]})`);
  const format = values.format ?? 'check';
  if (!['check', 'text', 'mermaid'].includes(format))
    badInput(`--format ${format}: expected check, text or mermaid`);
  const limit = intOption(values.limit, 'limit');
  const file = positionals[0]!;
  let trace: ReturnType<typeof readTrace>;
  try {
    trace = readTrace(readText(file), file);
  } catch (err) {
    if (err instanceof TraceError) badInput(err.message);
    throw err;
  }
  const emit = (text: string) => (values.out ? writeFileSync(values.out, text) : process.stdout.write(text));
  if (format === 'mermaid')
    return void emit(toSequenceDiagram(trace.header, trace.events, limit === undefined ? {} : { limit }));
  if (format === 'text') return void emit(`${trace.events.slice(0, limit).map(formatEvent).join('\n')}\n`);
  let result: Awaited<ReturnType<typeof replayTrace>>;
  try {
    result = await replayTrace(trace, file);
  } catch (err) {
    if (err instanceof TopologyError) badInput(err.message);
    throw err;
  }
  if (result.ok) {
    console.log(
      `${file}: replayed ${result.replayed} events with seed ${trace.header.seed}: identical (trace hash ${traceHash(trace.lines)})`,
    );
    return;
  }
  const d = result.divergence!;
  console.log(
    `${file}: diverges at event ${d.event} (line ${d.event + 1}) of ${result.recorded} recorded, ${result.replayed} replayed`,
  );
  console.log(`  recorded: ${d.expected ?? '(end of trace)'}`);
  console.log(`  replayed: ${d.actual ?? '(end of run)'}`);
  process.exitCode = 1;
}
