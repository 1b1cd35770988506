/**
 * The campaign inside a worker thread, for `runWatched`: it posts each call before running it,
 * so a call that blocks the thread for good is still known to the watchdog that kills it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { callsToJson } from './call.ts';
import { type FuzzOptions, runCampaign } from './campaign.ts';

const opts = workerData as FuzzOptions;
const report = await runCampaign({
  ...opts,
  onCall: (c, index, epoch) =>
    parentPort!.postMessage({ type: 'call', index, epoch, call: callsToJson([c]) }),
});
parentPort!.postMessage({
  type: 'done',
  report: {
    ...report,
    stats: [...report.stats].map(([k, s]) => [k, { ...s, errnos: [...s.errnos] }]),
    findings: report.findings.map((f) => ({
      ...f,
      calls: callsToJson(f.calls),
      shrunk: f.shrunk && { ...f.shrunk, calls: callsToJson(f.shrunk.calls) },
    })),
  },
});
