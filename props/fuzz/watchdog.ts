import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { callsFromJson, type FuzzCall } from './call.ts';
import { epochSession, type FuzzFinding, type FuzzOptions, type FuzzReport } from './campaign.ts';
import { knownFinding } from './finding.ts';

/**
 * Runs a campaign in a worker thread under a wall-clock watchdog: a call that blocks the
 * thread (a synchronous loop no step or virtual-time bound can stop) for `hangMs` is a `hang`
 * finding with the epoch's calls up to it; the worker is terminated and the campaign goes on
 * from the next epoch. Typed calls may then also use 2^32-1 sizes.
 */
export async function runWatched(opts: FuzzOptions, hangMs = 20_000): Promise<FuzzReport> {
  const stats: FuzzReport['stats'] = new Map();
  const findings: FuzzFinding[] = [];
  let calls = 0;
  const start = performance.now();
  let shrinkMs = 0;
  let firstEpoch = 0;
  for (;;) {
    const left = opts.calls - calls;
    if (left <= 0 || findings.length >= (opts.maxFindings ?? 5)) break;
    const run = await runOnce(
      { ...opts, calls: left, firstEpoch, hugeTypedSizes: true, onCall: undefined },
      hangMs,
    );
    for (const [k, s] of run.report?.stats ?? []) stats.set(k, s);
    findings.push(...(run.report?.findings ?? []));
    calls += run.report?.calls ?? run.calls;
    shrinkMs += run.report?.shrinkMs ?? 0;
    if (!run.hang) break;
    const session = epochSession(opts, run.hang.epoch);
    const finding = {
      kind: 'hang' as const,
      vendor: opts.vendor,
      at: run.hang.calls.length - 1,
      label: run.hang.label,
      message: `no answer for ${hangMs} ms of wall-clock time`,
    };
    findings.push({
      finding,
      signature: `hang:${run.hang.label}`,
      calls: run.hang.calls,
      shrunk: undefined,
      session,
      known: knownFinding(finding, run.hang.calls),
    });
    firstEpoch = run.hang.epoch + 1;
  }
  const ms = performance.now() - start - shrinkMs;
  return { vendor: opts.vendor, seed: opts.seed, calls, ms, shrinkMs, stats, findings };
}

interface Once {
  report: FuzzReport | undefined;
  calls: number;
  hang: { epoch: number; calls: FuzzCall[]; label: string } | undefined;
}

function runOnce(opts: FuzzOptions & { firstEpoch: number }, hangMs: number): Promise<Once> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerEntry(), { workerData: opts });
    let epoch = -1;
    let epochCalls: FuzzCall[] = [];
    let count = 0;
    // Wall time on purpose: a hang is a call that blocks the worker's thread, whatever the farm's clock says.
    let last = performance.now();
    const timer = setInterval(() => {
      if (performance.now() - last < hangMs) return;
      clearInterval(timer);
      void worker.terminate();
      const c = epochCalls.at(-1);
      resolve({
        report: undefined,
        calls: count,
        hang: { epoch, calls: epochCalls, label: c ? labelOf(c) : '?' },
      });
    }, 250);
    worker.on(
      'message',
      (m: { type: string; index: number; epoch: number; call: string; report: unknown }) => {
        last = performance.now();
        if (m.type === 'call') {
          if (m.epoch !== epoch) {
            epoch = m.epoch;
            epochCalls = [];
          }
          epochCalls.push(...callsFromJson(m.call));
          count++;
          return;
        }
        clearInterval(timer);
        void worker.terminate();
        resolve({ report: revive(m.report), calls: count, hang: undefined });
      },
    );
    worker.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
  });
}

/**
 * The worker's entry. Compiled (the installed package), the worker module is JavaScript and
 * loads as it is; from source it registers tsx first, as the CLI runs under it. Resolved only
 * when a watchdog starts, so importing this module never needs tsx.
 */
function workerEntry(): URL {
  const compiled = import.meta.url.endsWith('.js');
  const worker = new URL(compiled ? './campaign-worker.js' : './campaign-worker.ts', import.meta.url);
  if (compiled) return worker;
  const boot = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};
register();
await import(${JSON.stringify(worker.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(boot)}`);
}

function labelOf(c: FuzzCall): string {
  return 'name' in c ? c.name : c.k;
}

function revive(r: unknown): FuzzReport {
  const x = r as Record<string, unknown> & {
    stats: Array<[string, { ok: number; fail: number; errnos: Array<[string, number]> }]>;
    findings: Array<Record<string, unknown>>;
  };
  return {
    ...(x as unknown as FuzzReport),
    stats: new Map(x.stats.map(([k, s]) => [k, { ...s, errnos: new Map(s.errnos) }])),
    findings: x.findings.map((f) => {
      const shrunk = f.shrunk as (Record<string, unknown> & { calls: string }) | undefined;
      return {
        ...(f as unknown as FuzzFinding),
        calls: callsFromJson(f.calls as string),
        shrunk: shrunk
          ? ({ ...shrunk, calls: callsFromJson(shrunk.calls) } as unknown as FuzzFinding['shrunk'])
          : undefined,
      };
    }),
  };
}
