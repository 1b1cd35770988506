/**
 * What a campaign reached, per vendor: how often each command succeeded, failed or found nothing
 * to do, and how often each path of interest was taken. A path that stays at zero is a part of
 * the stack the campaign never tested, whatever the verdicts say.
 */

/** Paths of interest a run can reach (invalidation commands are counted as `inv:<opcode>`). */
export const PATHS = [
  'pasid-attach',
  'pasid-dma',
  'dma-explicit-paging',
  'dma-nest-parent',
  'dma-nested',
  'replace-cross-ioas',
  'dma-old-mapping',
  'group-multi-attach',
  'unwind-partway',
  'access-pin',
  'access-unmap-notify',
  'dma-race-invalidation',
  'dirty-tracking',
  'dirty-bitmap',
] as const;

export type PathName = (typeof PATHS)[number];

/** Success / failure / nothing-to-do counts of one command verb. */
export interface CommandTally {
  ok: number;
  fail: number;
  noop: number;
}

/**
 * Invalidation and sync commands each driver can issue (the opcodes its queue traces), so a
 * report can show the ones a campaign never made the driver send. The mock has no queue.
 */
export const INVALIDATIONS: Readonly<Record<string, readonly string[]>> = {
  mock: [],
  'intel-vtd': ['cc', 'iotlb', 'dev_tlb', 'pc', 'p_iotlb', 'p_dev_tlb', 'inv_wait'],
  // Trace names: CFGI_STE_RANGE is CMDQ_OP_CFGI_ALL, PREFETCH_CONFIG is CMDQ_OP_PREFETCH_CFG.
  'arm-smmuv3': [
    'CFGI_STE',
    'CFGI_STE_RANGE',
    'CFGI_CD',
    'PREFETCH_CONFIG',
    'TLBI_NH_ALL',
    'TLBI_NH_ASID',
    'TLBI_NH_VA',
    'TLBI_S12_VMALL',
    'TLBI_S2_IPA',
    'TLBI_EL2_ALL',
    'TLBI_NSNH_ALL',
    'ATC_INV',
    'CMD_SYNC',
  ],
  'amd-vi': [
    'INVALIDATE_DEVTAB_ENTRY',
    'INVALIDATE_IOMMU_PAGES',
    'INVALIDATE_IOTLB_PAGES',
    'INVALIDATE_IOMMU_ALL',
    'COMPLETION_WAIT',
  ],
};

/** Opcodes that only wait for earlier commands: a DMA racing one is not racing an invalidation. */
export const SYNC_OPCODES: ReadonlySet<string> = new Set(['inv_wait', 'CMD_SYNC', 'COMPLETION_WAIT']);

export class Coverage {
  readonly commands = new Map<string, Map<string, CommandTally>>();
  readonly paths = new Map<string, Map<string, number>>();
  runs = 0;

  command(vendor: string, verb: string, outcome: keyof CommandTally): void {
    let byVerb = this.commands.get(vendor);
    if (!byVerb) this.commands.set(vendor, (byVerb = new Map()));
    let t = byVerb.get(verb);
    if (!t) byVerb.set(verb, (t = { ok: 0, fail: 0, noop: 0 }));
    t[outcome]++;
  }

  path(vendor: string, path: string, n = 1): void {
    let byPath = this.paths.get(vendor);
    if (!byPath) this.paths.set(vendor, (byPath = new Map()));
    byPath.set(path, (byPath.get(path) ?? 0) + n);
  }

  count(vendor: string, path: string): number {
    return this.paths.get(vendor)?.get(path) ?? 0;
  }

  merge(other: Coverage): void {
    this.runs += other.runs;
    for (const [vendor, byVerb] of other.commands)
      for (const [verb, t] of byVerb) {
        for (const k of ['ok', 'fail', 'noop'] as const)
          for (let i = 0; i < t[k]; i++) this.command(vendor, verb, k);
      }
    for (const [vendor, byPath] of other.paths) for (const [p, n] of byPath) this.path(vendor, p, n);
  }

  /** Paths (and the driver's invalidation opcodes) a vendor never reached; `exempt` ones are not expected. */
  missing(vendor: string, exempt: ReadonlySet<string> = new Set()): string[] {
    const want = [...PATHS, ...(INVALIDATIONS[vendor] ?? []).map((op) => `inv:${op}`)];
    return want.filter((p) => !exempt.has(p) && this.count(vendor, p) === 0);
  }
}

/**
 * Paths a vendor cannot take in this farm, so a zero there is no gap: the mock has no command
 * queue (no invalidation can race a DMA) and nested HWPTs exist only where props/vendors has a
 * profile for them.
 */
export function exemptPaths(vendor: string, hasNested: boolean): Set<string> {
  const out = new Set<string>();
  if (vendor === 'mock') out.add('dma-race-invalidation');
  if (!hasNested) out.add('dma-nested');
  return out;
}

function grid(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Two tables: commands (ok/fail/noop per vendor) and paths (count per vendor). */
export function formatCoverage(cov: Coverage, vendors: readonly string[]): string {
  const verbs = [...new Set([...cov.commands.values()].flatMap((m) => [...m.keys()]))].sort();
  const cmdRows = verbs.map((verb) => [
    verb,
    ...vendors.map((v) => {
      const t = cov.commands.get(v)?.get(verb);
      return t ? `${t.ok}/${t.fail}/${t.noop}` : '-';
    }),
  ]);
  const extra = [...new Set([...cov.paths.values()].flatMap((m) => [...m.keys()]))]
    .filter((p) => !(PATHS as readonly string[]).includes(p))
    .sort();
  const pathRows = [...PATHS, ...extra].map((p) => [p, ...vendors.map((v) => String(cov.count(v, p)))]);
  return [
    `commands (ok/fail/noop) over ${cov.runs} runs`,
    grid(['command', ...vendors], cmdRows),
    '',
    'paths reached',
    grid(['path', ...vendors], pathRows),
  ].join('\n');
}
