import type { FarmEvent } from '../../runtime/trace.ts';
import { describeEvent } from './describe.ts';
import type { TraceHeader } from './trace-file.ts';

export interface SequenceOptions {
  /** At most this many events (default 400): Mermaid renders large diagrams slowly. */
  readonly limit?: number;
}

/** Message text Mermaid would misread (`;` ends a statement, `#` starts an entity, `:` is fine after the first). */
function text(s: string): string {
  return s.replace(/[;#]/g, ' ');
}

interface HostData {
  readonly name: string;
  readonly selftest?: boolean;
  readonly iommus?: ReadonlyArray<{ name: string }>;
  readonly devices?: ReadonlyArray<{ name: string; iommu: string }>;
  readonly processes?: ReadonlyArray<{ name: string }>;
}

/**
 * Events name things their own way (`nic0`, `vtd0/qi`, `h0/vtd0/qi`): a lifeline needs one
 * spelling, the host-qualified one, whenever the bare name is unique in the farm.
 */
function namer(header: TraceHeader): { qualify: (name: string) => string; iommuOf: Map<string, string> } {
  const hosts = (header.topology as { hosts?: readonly HostData[] }).hosts ?? [];
  const owners = new Map<string, string[]>();
  const iommuOf = new Map<string, string>();
  for (const h of hosts) {
    const parts = [
      ...(h.iommus ?? []),
      ...(h.selftest ? [{ name: 'mock' }] : []),
      ...(h.devices ?? []),
      ...(h.processes ?? []),
    ];
    for (const p of parts) owners.set(p.name, [...(owners.get(p.name) ?? []), h.name]);
    for (const d of h.devices ?? []) iommuOf.set(d.name, `${h.name}/${d.iommu}`);
  }
  const qualify = (name: string) => {
    if (owners.has(name.split('/')[0]!) === false) return name;
    const hostsOf = owners.get(name.split('/')[0]!)!;
    return hostsOf.length === 1 ? `${hostsOf[0]}/${name}` : name;
  };
  return { qualify, iommuOf };
}

/**
 * A trace as a Mermaid `sequenceDiagram`: one lifeline per actor (hosts, IOMMUs, queues, devices,
 * processes), in order of first appearance; a fabric delivery is an arrow along its link, a DMA
 * an arrow from the device to its IOMMU, an ioctl an arrow from the process to its iommufd, a
 * state change a note on the actor's lifeline. Virtual time leads every message.
 */
export function toSequenceDiagram(
  header: TraceHeader,
  events: readonly FarmEvent[],
  opts: SequenceOptions = {},
): string {
  const limit = opts.limit ?? 400;
  const { qualify, iommuOf } = namer(header);
  const participants = new Map<string, string>();
  const body: string[] = [];
  const lifeline = (raw: string) => {
    const name = raw.startsWith('iommufd ') ? raw : qualify(raw);
    let id = participants.get(name);
    if (!id) {
      id = `p${participants.size}`;
      participants.set(name, id);
    }
    return id;
  };
  for (const e of events.slice(0, limit)) {
    const { who, what } = describeEvent(e);
    const at = `${e.t}ns`;
    switch (e.type) {
      case 'fabric.deliver': {
        const [from, to] = e.link.split('->');
        body.push(`  ${lifeline(from ?? e.link)}->>${lifeline(to ?? e.link)}: ${at} ${text(e.label)}`);
        break;
      }
      case 'dma': {
        const iommu = iommuOf.get(e.device) ?? 'iommu';
        body.push(`  ${lifeline(e.device)}${e.ok ? '->>' : '-x'}${lifeline(iommu)}: ${at} ${text(what)}`);
        break;
      }
      case 'ioctl':
        body.push(`  ${lifeline(e.process)}->>${lifeline(`iommufd ctx ${e.ctx}`)}: ${at} ${text(what)}`);
        break;
      case 'object':
        body.push(
          `  Note over ${lifeline(`iommufd ctx ${e.ctx}`)}: ${at} ${text(`${e.op} ${e.kind} ${e.id}`)}`,
        );
        break;
      default:
        body.push(`  Note over ${lifeline(who)}: ${at} ${text(what)}`);
    }
  }
  if (events.length > limit) body.push(`  Note over p0: … ${events.length - limit} more events`);
  const head = [...participants].map(([name, id]) => `  participant ${id} as ${text(name)}`);
  return `${['sequenceDiagram', ...head, ...body].join('\n')}\n`;
}
