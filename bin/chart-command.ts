import { writeFileSync } from 'node:fs';
import type { AnyActorRef } from 'xstate';
import { CHART_FORMATS, type ChartFormat, chart } from '../actors/inspect/chart/chart.ts';
import { machineType, machineTypes } from '../actors/inspect/chart/machine-types.ts';
import { loadTopology } from '../actors/inspect/topology/build.ts';
import { TopologyError } from '../actors/inspect/topology/parse.ts';
import { runScenario } from '../actors/inspect/topology/scenario.ts';
import { badInput, intOption, parseCommandLine } from './cli-error.ts';
import { readTopologyFile } from './read-input.ts';

/** Usage text (a function: listing the machine types builds one scratch IOMMU per vendor). */
export const chartUsage =
  () => `usage: iommu-farm chart <machine|actor-id> [--format ${CHART_FORMATS.join('|')}] [--out file]
                        [--topology file [--seed s] [--steps n]]
  a machine type: ${machineTypes()
    .map((m) => m.name)
    .join(', ')}
  an actor id (h0/nic0, h0/vtd0/qi ...) needs --topology: the farm is built, its scenario run
  (the first --steps steps only, when given), and the actor's live state highlighted.
  iommu-farm chart --list [--topology file] lists the machine types (and the actors)`;

/** The farm of a topology file after its scenario (or its first `steps` steps) ran. */
async function liveFarm(file: string, seed: number | undefined, steps: number | undefined) {
  const { text, topology } = readTopologyFile(file);
  try {
    const farm = loadTopology(text, { file, ...(seed === undefined ? {} : { seed }) });
    await runScenario(farm, (topology.scenario ?? []).slice(0, steps));
    return farm;
  } catch (err) {
    if (err instanceof TopologyError) badInput(err.message);
    throw err;
  }
}

/** `iommu-farm chart`: a state chart of a machine type, or of a live actor of a topology's farm. */
export async function chartCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string', short: 'f' },
      out: { type: 'string', short: 'o' },
      topology: { type: 'string', short: 't' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(chartUsage());
  const seed = intOption(values.seed, 'seed');
  const steps = intOption(values.steps, 'steps');
  if (values.list) {
    console.log(
      `machines: ${machineTypes()
        .map((m) => m.name)
        .join(', ')}`,
    );
    if (values.topology) {
      const farm = await liveFarm(values.topology, seed, steps);
      for (const a of farm.actors())
        console.log(`${a.id.padEnd(24)} ${a.machine.padEnd(8)} ${JSON.stringify(a.state)}`);
    }
    return;
  }
  if (positionals.length !== 1)
    badInput(`chart takes one machine or actor id (${chartUsage().split('\n')[0]})`);
  const format = (values.format ?? 'mermaid') as ChartFormat;
  if (!CHART_FORMATS.includes(format))
    badInput(`--format ${format}: expected one of ${CHART_FORMATS.join(', ')}`);
  if (format === 'png' && !values.out && process.stdout.isTTY) badInput('png is binary: give --out file.png');
  const name = positionals[0]!;
  let target = machineType(name)?.machine as Parameters<typeof chart>[0] | undefined;
  if (!target) {
    if (!values.topology) {
      badInput(
        `no machine type "${name}" (one of ${machineTypes()
          .map((m) => m.name)
          .join(', ')}); an actor id needs --topology file`,
      );
    }
    const farm = await liveFarm(values.topology, seed, steps);
    const ref = name === 'farm' ? farm.root : (farm.root.system.get(name) as AnyActorRef | undefined);
    if (!ref)
      badInput(
        `no actor "${name}" in ${values.topology} (actors: ${farm
          .actors()
          .map((a) => a.id)
          .join(', ')})`,
      );
    target = ref;
  }
  const out = await chart(target, { format });
  if (values.out) {
    writeFileSync(values.out, out);
    console.error(`${format} chart of ${name} written to ${values.out}`);
  } else process.stdout.write(out);
}
