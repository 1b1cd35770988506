import { stringify } from 'yaml';
import type { Json } from '../chart/context-summary.ts';
import type { Topology } from './schema.ts';
import { formatSize } from './size.ts';

/** The fields that hold sizes or addresses: written back as "64KiB", "1GiB", 0x… */
function plain(value: unknown): Json {
  if (typeof value === 'bigint') return formatSize(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plain(v);
    return out;
  }
  return value as Json;
}

/**
 * A topology as a file holds it: JSON values only, sizes spelled for people, each scenario step
 * as `{ <op>: { args } }`. `parseTopology(JSON.stringify(topologyData(t)))` gives `t` back.
 */
export function topologyData(topology: Topology): Json {
  const { scenario, ...rest } = topology;
  const hosts = plain(rest) as { [k: string]: Json };
  // Empty lists are the default: leave them out, as a person would.
  for (const h of hosts['hosts'] as Array<{ [k: string]: Json }>) {
    for (const k of ['iommus', 'devices', 'processes']) if ((h[k] as Json[]).length === 0) delete h[k];
  }
  if (scenario === undefined) return hosts;
  return { ...hosts, scenario: scenario.map((s) => ({ [s.op]: plain(s.args) })) };
}

export function topologyToYaml(topology: Topology): string {
  return stringify(topologyData(topology), { lineWidth: 100, flowCollectionPadding: true });
}

export function topologyToJson(topology: Topology): string {
  return `${JSON.stringify(topologyData(topology), null, 2)}\n`;
}
