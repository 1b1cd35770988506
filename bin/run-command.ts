import { writeFileSync } from 'node:fs';
import { TopologyError } from '../actors/inspect/topology/parse.ts';
import { formatEvent } from '../actors/inspect/trace/describe.ts';
import { traceHash } from '../actors/inspect/trace/hash.ts';
import { recordRun } from '../actors/inspect/trace/record.ts';
import { traceText } from '../actors/inspect/trace/trace-file.ts';
import { badInput, intOption, parseCommandLine } from './cli-error.ts';
import { readTopologyFile } from './read-input.ts';

export const RUN_USAGE = `usage: iommu-farm run <topology.yaml|json> [--seed s] [--record trace.jsonl] [--quiet]
  builds the farm a topology describes, runs its scenario and prints every event;
  --record writes the events as a JSONL trace that 'iommu-farm replay' checks`;

/** `iommu-farm run <file>`: exit 0 when every step met its expectation, 1 otherwise, 2 on bad input. */
export async function runCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      seed: { type: 'string' },
      record: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(RUN_USAGE);
  if (positionals.length !== 1) badInput(`run takes one topology file (${RUN_USAGE.split('\n')[0]})`);
  const file = positionals[0]!;
  const seed = intOption(values.seed, 'seed');
  const { topology } = readTopologyFile(file);
  const tty = process.stderr.isTTY === true;
  const print = (line: string) => {
    if (tty) process.stderr.write(`\r${' '.repeat(79)}\r`);
    if (!values.quiet) console.log(line);
  };
  let run: Awaited<ReturnType<typeof recordRun>>;
  try {
    run = await recordRun(topology, {
      ...(seed === undefined ? {} : { seed }),
      onEvent: (e) => print(formatEvent(e)),
      onStep: (o, total) => {
        print(`${o.ok ? '──' : '!!'} step ${o.index + 1}/${total} ${o.op}: ${o.detail}`);
        if (tty)
          process.stderr.write(
            `[${'#'.repeat(Math.round(((o.index + 1) / total) * 30)).padEnd(30, '.')}] step ${o.index + 1}/${total}`,
          );
      },
    });
  } catch (err) {
    if (err instanceof TopologyError) badInput(err.message);
    throw err;
  }
  if (tty) process.stderr.write(`\r${' '.repeat(79)}\r`);
  const failed = run.outcomes.filter((o) => !o.ok);
  const steps = topology.scenario?.length ?? 0;
  console.log(
    `${file}: seed ${run.farm.seed}, ${run.outcomes.length}/${steps} steps run, ${failed.length} unexpected; ` +
      `${run.lines.length} events, ${run.farm.now} ns virtual; trace hash ${traceHash(run.lines)}`,
  );
  if (values.record) {
    writeFileSync(values.record, traceText(run.header, run.lines));
    console.log(`trace written to ${values.record} (replay: iommu-farm replay ${values.record})`);
  }
  process.exitCode = failed.length > 0 ? 1 : 0;
}
