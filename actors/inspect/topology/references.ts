import { MOCK_IOMMU } from '../../host.ts';
import { REF_KINDS, RESULT_KIND, type Topology } from './schema.ts';

/** A problem at a path of the document (and, for a key, at that key). */
export interface Issue {
  readonly path: readonly PropertyKey[];
  readonly key?: PropertyKey;
  readonly message: string;
}

/** `h0/nic0`, or `nic0` when only one host has it. */
export function resolveQualified(
  topology: Topology,
  what: 'devices' | 'processes',
  qualified: string,
): { host: string; name: string } | string {
  const slash = qualified.indexOf('/');
  const hits = topology.hosts.flatMap((h) =>
    h[what]
      .filter((x) => (slash < 0 ? x.name === qualified : `${h.name}/${x.name}` === qualified))
      .map((x) => ({ host: h.name, name: x.name })),
  );
  const noun = what === 'devices' ? 'device' : 'process';
  if (hits.length === 1) return hits[0]!;
  if (hits.length === 0) return `no ${noun} "${qualified}" in the topology`;
  return `${noun} "${qualified}" is on several hosts (${hits.map((h) => h.host).join(', ')}): write host/${qualified}`;
}

function duplicates(names: readonly string[]): Set<number> {
  const seen = new Set<string>();
  const dup = new Set<number>();
  names.forEach((n, i) => {
    if (seen.has(n)) dup.add(i);
    seen.add(n);
  });
  return dup;
}

/** Names that must refer to something: hosts' parts, and every step's devices, processes and `$refs`. */
export function checkReferences(topology: Topology): Issue[] {
  const issues: Issue[] = [];
  for (const i of duplicates(topology.hosts.map((h) => h.name))) {
    issues.push({
      path: ['hosts', i, 'name'],
      message: `host "${topology.hosts[i]!.name}" is defined twice`,
    });
  }
  topology.hosts.forEach((h, hi) => {
    for (const part of ['iommus', 'devices', 'processes'] as const) {
      for (const i of duplicates(h[part].map((x) => x.name))) {
        issues.push({
          path: ['hosts', hi, part, i, 'name'],
          message: `"${h[part][i]!.name}" is defined twice on ${h.name}`,
        });
      }
    }
    const iommus = new Set([...h.iommus.map((i) => i.name), ...(h.selftest ? [MOCK_IOMMU] : [])]);
    h.devices.forEach((d, di) => {
      if (!iommus.has(d.iommu)) {
        const known = [...iommus].join(', ') || 'none';
        issues.push({
          path: ['hosts', hi, 'devices', di, 'iommu'],
          message: `no IOMMU "${d.iommu}" on ${h.name} (it has: ${known})`,
        });
      }
    });
  });

  const results = new Map<string, string>();
  (topology.scenario ?? []).forEach((step, si) => {
    const args = step.args as Record<string, unknown>;
    const base = ['scenario', si, step.op];
    for (const [field, value] of Object.entries(args)) {
      if (field === 'process' || (field === 'device' && (step.op === 'bind' || step.op === 'dma'))) {
        const r = resolveQualified(topology, field === 'process' ? 'processes' : 'devices', value as string);
        if (typeof r === 'string') issues.push({ path: [...base, field], message: r });
        continue;
      }
      if (typeof value !== 'string' || !value.startsWith('$')) continue;
      const kinds = REF_KINDS[field];
      const kind = results.get(value.slice(1));
      if (kind === undefined) {
        issues.push({ path: [...base, field], message: `${value} is not the result of an earlier step` });
      } else if (kinds && !kinds.includes(kind)) {
        issues.push({
          path: [...base, field],
          message: `${value} is a ${kind}, ${field} takes a ${kinds.join(' or ')}`,
        });
      }
    }
    const named = args['as'] as string | undefined;
    const kind = RESULT_KIND[step.op];
    if (named !== undefined && kind !== undefined) {
      if (results.has(named))
        issues.push({ path: [...base, 'as'], message: `result name "${named}" is already used` });
      results.set(named, kind);
    }
  });
  return issues;
}
